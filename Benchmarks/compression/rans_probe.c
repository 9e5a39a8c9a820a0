// A probe, not the container's codec: how large and how fast the exponent plane is when the
// exponent byte and the top k mantissa bits below the sign (k = 0 or 2) are one symbol of a
// static rANS coder (4 interleaved 32-bit states, 16-bit refills, 12-bit frequencies, one
// table per chunk or per segment of a chunk), against zstd as the writer uses it now. The
// other 8 - k bits of the byte below are stored (packed, 4 values in 3 bytes for k = 2).
//
// Input: records [u32 n][n bytes: top plane][n bytes: the plane below], one per 1 MiB chunk
// (entropy_study.py --dump DIR). Output: bits per element of the two planes, tables, lengths
// and a 4-byte checksum a segment included, and decoding speed on one core (thread CPU time,
// best of 7, zstd and rANS alternated) in GB/s of the two planes restored.
//
//     cc -O2 -march=native -o rans_probe rans_probe.c -lzstd
//     ./rans_probe DIR/bf16.planes 2 [elements a table]
//
// The second argument is the element width: GB/s of whole elements, if the other planes
// (stored, or zstd level 1) cost nothing, is the planes' GB/s times width / 2. Each segment
// is round-tripped and a truncated stream is checked to be refused.
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_literalCompressionMode
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>
#include <immintrin.h>

// STATES interleaved 32-bit states in [2^16, 2^32) that move 16 bits at a time: at most one
// refill a symbol. The AVX2 decoder needs 32; fewer cost fewer bytes (each state is flushed
// in 4 bytes a segment): -DSTATES=4 for the sizes of a scalar decoder.
#ifndef STATES
#define STATES 32
#endif
enum { PROB = 12, TOTAL = 1 << PROB };
#define LOWER (1u << 16)

typedef struct { uint16_t symbol, freq, bias, unused; } Slot;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  // CPU time: the machine is shared
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Counts scaled to sum TOTAL, each used symbol at least 1: 1 each, the rest shared in
// proportion, the rounding remainder (never negative) to the most frequent.
static void quantize(const uint32_t *counts, int alphabet, uint64_t n, uint16_t *freq) {
    int64_t used = 0, sum = 0, best = 0;
    for (int s = 0; s < alphabet; s++) used += counts[s] != 0;
    for (int s = 0; s < alphabet; s++) {
        freq[s] = counts[s] ? (uint16_t)(1 + counts[s] * (uint64_t)(TOTAL - used) / n) : 0;
        sum += freq[s];
        if (counts[s] > counts[best]) best = s;
    }
    freq[best] = (uint16_t)(freq[best] + (TOTAL - sum));
}

// Table bytes: per run of used symbols, a varint gap and a varint length, then a varint per
// frequency (minus 1). Returns the size.
static size_t put_varint(uint8_t *out, uint32_t v) {
    size_t k = 0;
    while (v >= 128) { out[k++] = (uint8_t)(v | 128); v >>= 7; }
    out[k++] = (uint8_t)v;
    return k;
}

static size_t table_bytes(const uint16_t *freq, int alphabet, uint8_t *out) {
    size_t k = 0;
    int s = 0, last = 0;
    while (s < alphabet) {
        if (!freq[s]) { s++; continue; }
        int start = s;
        while (s < alphabet && freq[s]) s++;
        k += put_varint(out + k, (uint32_t)(start - last));
        k += put_varint(out + k, (uint32_t)(s - start));
        for (int t = start; t < s; t++) k += put_varint(out + k, freq[t] - 1u);
        last = s;
    }
    return k;
}

// Encodes symbols [0, n) backwards into the end of `buffer` (capacity `cap`); returns the
// start of the stream (it runs to buffer + cap).
static uint8_t *encode(const uint16_t *symbols, size_t n, const uint16_t *freq, const uint16_t *start,
                       uint8_t *buffer, size_t cap) {
    uint32_t x[STATES];
    for (int j = 0; j < STATES; j++) x[j] = LOWER;
    uint8_t *p = buffer + cap;
    for (size_t i = n; i-- > 0;) {
        uint32_t *s = &x[i % STATES];
        uint16_t f = freq[symbols[i]];
        uint64_t limit = (uint64_t)((LOWER >> PROB) << 16) * f;  // 2^32 for a lone symbol
        if (*s >= limit) { p -= 2; p[0] = (uint8_t)*s; p[1] = (uint8_t)(*s >> 8); *s >>= 16; }
        *s = ((*s / f) << PROB) + (*s % f) + start[symbols[i]];
    }
    for (int j = STATES; j-- > 0;) { p -= 4; memcpy(p, &x[j], 4); }
    return p;
}

// Decodes n symbols of joint (top, k bits) into the top plane and the k bits' place in `low`
// (whose other bits are already there). Returns 0, or -1 for a malformed stream.
static int decode(const uint8_t *p, const uint8_t *end, const Slot *table, int k,
                  uint8_t *top, uint8_t *low, size_t n) {
    if (end - p < 4 * STATES) return -1;
    uint32_t x[STATES];
    for (int j = 0; j < STATES; j++) { memcpy(&x[j], p, 4); p += 4; if (x[j] < LOWER) return -1; }  // little-endian host
    const int shift = 7 - k;
    const uint8_t mask = (uint8_t)((1u << k) - 1);
    size_t i = 0;
    for (; i + STATES <= n; i += STATES) {
        for (int j = 0; j < STATES; j++) {
            Slot e = table[x[j] & (TOTAL - 1)];
            x[j] = e.freq * (x[j] >> PROB) + e.bias;
            top[i + j] = (uint8_t)(e.symbol >> k);
            low[i + j] |= (uint8_t)((e.symbol & mask) << shift);
            if (x[j] < LOWER) { if (end - p < 2) return -1; x[j] = x[j] << 16 | p[0] | (uint32_t)p[1] << 8; p += 2; }
        }
    }
    for (int j = 0; i < n; i++, j++) {
        Slot e = table[x[j] & (TOTAL - 1)];
        x[j] = e.freq * (x[j] >> PROB) + e.bias;
        top[i] = (uint8_t)(e.symbol >> k);
        low[i] |= (uint8_t)((e.symbol & mask) << shift);
        if (x[j] < LOWER) { if (end - p < 2) return -1; x[j] = x[j] << 16 | p[0] | (uint32_t)p[1] << 8; p += 2; }
    }
    for (int j = 0; j < STATES; j++) if (x[j] != LOWER) return -1;
    return p == end ? 0 : -1;
}

// The same for k = 0 with AVX2: the 32 states in four registers, a gather for their table
// entries (frequency, bias and symbol packed in 32 bits, `packed`), and the refills of the
// lanes that need one taken from the next words in lane order. Falls back to scalar steps
// near the end of the stream and for the last n mod 32 symbols.
static __m256i spread[256];

static void init_spread(void) {
    for (int m = 0; m < 256; m++) {
        int32_t lanes[8];
        for (int j = 0, c = 0; j < 8; j++) { lanes[j] = c; c += (m >> j) & 1; }
        spread[m] = _mm256_loadu_si256((const __m256i *)lanes);
    }
}

// One step of 8 lanes: decode, store 8 symbols, refill the lanes below 2^16.
#define STEP(x, out)                                                                                       \
    do {                                                                                                   \
        __m256i e = _mm256_i32gather_epi32((const int *)packed, _mm256_and_si256(x, mask), 4);             \
        __m256i freq = _mm256_and_si256(e, mask), bias = _mm256_and_si256(_mm256_srli_epi32(e, PROB), mask); \
        x = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(x, PROB)), bias);                  \
        __m256i symbols = _mm256_shuffle_epi8(e, pick);                                                    \
        uint32_t a = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(symbols));                         \
        uint32_t b = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(symbols, 1));                    \
        memcpy((out), &a, 4);                                                                              \
        memcpy((out) + 4, &b, 4);                                                                          \
        __m256i need = _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 16), zero);                                 \
        int m = _mm256_movemask_ps(_mm256_castsi256_ps(need));                                             \
        if (m) {                                                                                           \
            __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));                    \
            __m256i refill = _mm256_or_si256(_mm256_slli_epi32(x, 16), _mm256_permutevar8x32_epi32(words, spread[m])); \
            x = _mm256_blendv_epi8(x, refill, need);                                                       \
            p += 2 * __builtin_popcount((unsigned)m);                                                      \
        }                                                                                                  \
    } while (0)

__attribute__((target("avx2,popcnt")))
static int decode_avx2(const uint8_t *p, const uint8_t *end, const uint32_t *packed, const Slot *table,
                       uint8_t *top, size_t n) {
    if (end - p < 4 * STATES) return -1;
    __m256i x0 = _mm256_loadu_si256((const __m256i *)p), x1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    __m256i x2 = _mm256_loadu_si256((const __m256i *)(p + 64)), x3 = _mm256_loadu_si256((const __m256i *)(p + 96));
    p += 128;
    const __m256i zero = _mm256_setzero_si256(), mask = _mm256_set1_epi32(TOTAL - 1);
    __m256i low0 = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_srli_epi32(x0, 16), zero), _mm256_cmpeq_epi32(_mm256_srli_epi32(x1, 16), zero));
    __m256i low1 = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_srli_epi32(x2, 16), zero), _mm256_cmpeq_epi32(_mm256_srli_epi32(x3, 16), zero));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(low0, low1)))) return -1;
    const __m256i pick = _mm256_setr_epi8(3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    size_t i = 0;
    // Four registers, 32 states, so that their gathers overlap; each step reads at most 16
    // bytes, so 64 left is enough for the four.
    for (; i + 32 <= n && end - p >= 64; i += 32) {
        STEP(x0, top + i);
        STEP(x1, top + i + 8);
        STEP(x2, top + i + 16);
        STEP(x3, top + i + 24);
    }
    // The rest, scalar, from where the vector loop stopped.
    uint32_t lanes[32];
    _mm256_storeu_si256((__m256i *)lanes, x0);
    _mm256_storeu_si256((__m256i *)(lanes + 8), x1);
    _mm256_storeu_si256((__m256i *)(lanes + 16), x2);
    _mm256_storeu_si256((__m256i *)(lanes + 24), x3);
    for (int j = 0; i < n; i++, j = (j + 1) % 32) {
        Slot s = table[lanes[j] & (TOTAL - 1)];
        lanes[j] = s.freq * (lanes[j] >> PROB) + s.bias;
        top[i] = (uint8_t)s.symbol;
        if (lanes[j] < LOWER) { if (end - p < 2) return -1; lanes[j] = lanes[j] << 16 | p[0] | (uint32_t)p[1] << 8; p += 2; }
    }
    for (int j = 0; j < 32; j++) if (lanes[j] != LOWER) return -1;
    return p == end ? 0 : -1;
}

// The bits of `low` that stay outside the symbol (8 - k of them: the sign and the low
// mantissa bits), packed: 4 values of 6 bits in 3 bytes for k = 2, bytes as they are for k = 0.
static size_t pack(const uint8_t *low, size_t n, int k, uint8_t *out) {
    const uint8_t keep = (uint8_t)(0x80 | ((1u << (7 - k)) - 1));
    if (k == 0) { memcpy(out, low, n); return n; }
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) { uint8_t b = low[i + j] & keep; v |= (uint32_t)((b >> 7) << 5 | (b & 31)) << (6 * j); }
        out[o++] = (uint8_t)v; out[o++] = (uint8_t)(v >> 8); out[o++] = (uint8_t)(v >> 16);
    }
    for (; i < n; i++) out[o++] = low[i] & keep;
    return o;
}

static void unpack(const uint8_t *in, size_t n, int k, uint8_t *low) {
    if (k == 0) { memcpy(low, in, n); return; }
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4, o += 3) {
        uint32_t v = in[o] | (uint32_t)in[o + 1] << 8 | (uint32_t)in[o + 2] << 16;
        for (int j = 0; j < 4; j++) { uint32_t b = v >> (6 * j) & 63; low[i + j] = (uint8_t)((b >> 5) << 7 | (b & 31)); }
    }
    for (; i < n; i++) low[i] = in[o++];
}

typedef struct { size_t n; uint8_t *top, *low; } Chunk;

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s planes width\n", argv[0]); return 2; }
    int width = atoi(argv[2]);
    size_t segment = argc > 3 ? (size_t)atol(argv[3]) : 0;  // elements per table; 0: a table per chunk
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    static Chunk chunks[65536], whole[4096];
    int count = 0, wholes = 0;
    size_t elements = 0;
    uint32_t n;
    while (fread(&n, 4, 1, f) == 1) {
        uint8_t *t = malloc(n), *l = malloc(n);
        if (fread(t, 1, n, f) != n || fread(l, 1, n, f) != n) return 1;
        if (wholes == 4096) return 1;
        whole[wholes++] = (Chunk){ n, t, l };
        size_t step = segment ? segment : n;
        for (size_t s = 0; s < n; s += step) {
            if (count == 65536) return 1;
            size_t m = n - s < step ? n - s : step;
            chunks[count++] = (Chunk){ m, t + s, l + s };
        }
        elements += n;
    }
    fclose(f);

    // zstd as the writer uses it: exponent tuning on the top plane, level 1 (or stored) below.
    ZSTD_CCtx *ec = ZSTD_createCCtx(), *lc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(ec, ZSTD_c_strategy, ZSTD_fast);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_windowLog, 17);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_hashLog, 6);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_chainLog, 6);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_searchLog, 1);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_minMatch, 7);
    ZSTD_CCtx_setParameter(ec, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(lc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(lc, ZSTD_c_checksumFlag, 1);
    ZSTD_DCtx *dc = ZSTD_createDCtx();

    uint8_t **zt = malloc(wholes * sizeof *zt), **zl = malloc(wholes * sizeof *zl);
    size_t *zts = malloc(wholes * sizeof *zts), *zls = malloc(wholes * sizeof *zls);
    size_t zbytes = 0;
    for (int c = 0; c < wholes; c++) {
        size_t b = ZSTD_compressBound(whole[c].n);
        zt[c] = malloc(b); zl[c] = malloc(b);
        zts[c] = ZSTD_compress2(ec, zt[c], b, whole[c].top, whole[c].n);
        zls[c] = ZSTD_compress2(lc, zl[c], b, whole[c].low, whole[c].n);
        zbytes += zts[c] + zls[c];
    }
    printf("%s: %zu elements in %d segments (%zu elements a table; 0: a table per 1 MiB chunk)\n", argv[1], elements, count, segment);
    printf("  zstd now          %.4f bits/element (top + the plane below)\n", 8.0 * zbytes / elements);
    // The same with Huffman-coded literals forced (ZSTD_ps_enable) on both planes.
    ZSTD_CCtx_setParameter(ec, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
    ZSTD_CCtx_setParameter(lc, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
    size_t forced = 0;
    for (int c = 0; c < wholes; c++) {
        size_t b = ZSTD_compressBound(whole[c].n);
        uint8_t *scratch = malloc(b);
        forced += ZSTD_compress2(ec, scratch, b, whole[c].top, whole[c].n) + ZSTD_compress2(lc, scratch, b, whole[c].low, whole[c].n);
        free(scratch);
    }
    printf("  zstd, literals forced %.4f bits/element\n", 8.0 * forced / elements);

    init_spread();
    uint8_t *top = malloc(1 << 20), *low = malloc(1 << 20);
    for (int k = 0; k <= 2; k += 2) {
        int alphabet = 256 << k;
        size_t bytes = 0, table_total = 0;
        uint8_t **streams = malloc(count * sizeof *streams), **packed = malloc(count * sizeof *packed);
        size_t *lengths = malloc(count * sizeof *lengths);
        Slot **tables = malloc(count * sizeof *tables);
        uint32_t **vector = calloc(count, sizeof *vector);  // k = 0: packed entries for decode_avx2
        for (int c = 0; c < count; c++) {
            size_t m = chunks[c].n;
            uint16_t *symbols = malloc(m * 2);
            uint32_t counts[1024] = {0};
            for (size_t i = 0; i < m; i++) {
                symbols[i] = (uint16_t)(chunks[c].top[i] << k | (chunks[c].low[i] & 0x7F) >> (7 - k));
                counts[symbols[i]]++;
            }
            uint16_t freq[1024], start[1024];
            quantize(counts, alphabet, m, freq);
            uint8_t tb[4096];
            size_t tsize = table_bytes(freq, alphabet, tb);
            uint32_t cum = 0;
            tables[c] = malloc(TOTAL * sizeof(Slot));
            for (int s = 0; s < alphabet; s++) {
                start[s] = (uint16_t)cum;
                for (uint32_t t = 0; t < freq[s]; t++) tables[c][cum + t] = (Slot){ (uint16_t)s, freq[s], (uint16_t)t, 0 };
                cum += freq[s];
            }
            if (k == 0 && STATES == 32) {
                int lone = 0;
                for (int s = 0; s < alphabet; s++) lone |= freq[s] == TOTAL;
                if (!lone) {  // a lone symbol's frequency, 4096, takes 13 bits: scalar then
                    vector[c] = malloc(TOTAL * 4);
                    for (int t = 0; t < TOTAL; t++)
                        vector[c][t] = tables[c][t].freq | (uint32_t)tables[c][t].bias << PROB | (uint32_t)tables[c][t].symbol << 24;
                }
            }
            size_t cap = m * 2 + 64;
            uint8_t *buffer = malloc(cap);
            uint8_t *p = encode(symbols, m, freq, start, buffer, cap);
            lengths[c] = (size_t)(buffer + cap - p);
            streams[c] = malloc(lengths[c]);
            memcpy(streams[c], p, lengths[c]);
            free(buffer);
            packed[c] = malloc(m + 4);
            size_t plen = pack(chunks[c].low, m, k, packed[c]);
            bytes += lengths[c] + tsize + plen + 4 + 8;  // + a 32-bit checksum and two lengths
            table_total += tsize;
            free(symbols);
            // Round trip.
            unpack(packed[c], m, k, low);
            if (decode(streams[c], streams[c] + lengths[c], tables[c], k, top, low, m) != 0 ||
                memcmp(top, chunks[c].top, m) || memcmp(low, chunks[c].low, m)) {
                fprintf(stderr, "round trip failed, chunk %d k %d\n", c, k);
                return 1;
            }
            if (vector[c] && (decode_avx2(streams[c], streams[c] + lengths[c], vector[c], tables[c], top, m) != 0 ||
                              memcmp(top, chunks[c].top, m))) {
                fprintf(stderr, "AVX2 round trip failed, chunk %d\n", c);
                return 1;
            }
            if (vector[c] && lengths[c] > 40 &&
                decode_avx2(streams[c], streams[c] + lengths[c] - 2, vector[c], tables[c], top, m) == 0) {
                fprintf(stderr, "AVX2 truncation accepted, chunk %d\n", c);
                return 1;
            }
            // A truncated stream must be refused, never overread.
            if (lengths[c] > 20 && decode(streams[c], streams[c] + lengths[c] - 1, tables[c], k, top, low, m) == 0) {
                fprintf(stderr, "truncation accepted, chunk %d\n", c);
                return 1;
            }
        }
        printf("  rANS, top + %d bits %.4f bits/element (tables %.4f; %+.4f against zstd)\n", k, 8.0 * bytes / elements,
               8.0 * table_total / elements, 8.0 * ((double)bytes - zbytes) / elements);
        // Speed: decode all chunks, zstd and rANS alternated, best of 7.
        double best_z = 1e9, best_r = 1e9, best_v = 1e9;
        for (int round = 0; round < 7; round++) {
            double t0 = now();
            for (int c = 0; c < wholes; c++) {
                ZSTD_decompressDCtx(dc, top, 1 << 20, zt[c], zts[c]);
                ZSTD_decompressDCtx(dc, low, 1 << 20, zl[c], zls[c]);
            }
            double t1 = now();
            for (int c = 0; c < count; c++) {
                unpack(packed[c], chunks[c].n, k, low);
                decode(streams[c], streams[c] + lengths[c], tables[c], k, top, low, chunks[c].n);
            }
            double t2 = now();
            if (k == 0) {
                for (int c = 0; c < count; c++) {
                    unpack(packed[c], chunks[c].n, k, low);
                    if (vector[c]) decode_avx2(streams[c], streams[c] + lengths[c], vector[c], tables[c], top, chunks[c].n);
                    else decode(streams[c], streams[c] + lengths[c], tables[c], k, top, low, chunks[c].n);
                }
            }
            double t3 = now();
            if (t1 - t0 < best_z) best_z = t1 - t0;
            if (t2 - t1 < best_r) best_r = t2 - t1;
            if (t3 - t2 < best_v) best_v = t3 - t2;
        }
        // GB/s of whole elements: these two planes are 2 of `width` bytes; the others
        // (stored or zstd) are not timed here.
        printf("    decode, 1 core: zstd %.2f GB/s of the two planes (%.2f GB/s of elements if the rest were free), rANS %.2f GB/s (%.2f)\n",
               2.0 * elements / best_z / 1e9, (double)width * elements / best_z / 1e9,
               2.0 * elements / best_r / 1e9, (double)width * elements / best_r / 1e9);
        if (k == 0 && STATES == 32)
            printf("    decode, 1 core: rANS with AVX2 (32 states in four registers) %.2f GB/s (%.2f)\n",
                   2.0 * elements / best_v / 1e9, (double)width * elements / best_v / 1e9);
    }
    return 0;
}
