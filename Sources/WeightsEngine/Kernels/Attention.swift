/// Multi-head self-attention of one sequence, softmax(Q·Kᵀ / √d) · V per head.
///
/// Padding never enters: the sequence is attended over its own `length` tokens only, which
/// equals what a padded batch with an attention mask computes (masked scores become exactly 0
/// after the softmax).
struct Attention {
    let headCount: Int
    let headSize: Int

    /// Writes the heads' outputs, side by side, into `context` (`length` rows of
    /// `headCount × headSize`). `query`, `key`, `value` hold the projections of the same
    /// rows; `scores` holds `threads × length²` floats. Heads are shared out over `threads`.
    ///
    /// - Complexity: O(length² × hidden).
    func apply(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
               length: Int, context: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
               threads: Int = 1) {
        let workers = min(max(threads, 1), headCount)
        // Sound: worker w < threads uses its own `length`² floats of `scores`, which holds
        // `threads` × `length`² (the workspace sizes it for the longest sequence); heads write
        // disjoint columns of `context`.
        Parallel.forEach(workers) { worker in
            var head = worker
            while head < headCount {
                unsafe self.head(head, query: query, key: key, value: value, length: length, context: context,
                          scores: scores + worker * length * length)
                head += workers
            }
        }
    }

    private func head(_ head: Int, query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                      length: Int, context: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let width = headCount * headSize
        let offset = head * headSize
        let scale = 1 / Float(headSize).squareRoot()
        // Sound: the caller lends `length` rows of `headCount × headSize` floats in `query`,
        // `key`, `value` and `context`; the head reads and writes its `headSize` columns at
        // `offset` (head < headCount), and `length` × `length` floats of `scores`.
        unsafe BLAS.multiplyTransposed(query + offset, lda: width, key + offset, ldb: width,
                                into: scores, ldc: length, m: length, n: length, k: headSize, alpha: scale)
        for row in 0..<length {
            unsafe Operations.softmax(UnsafeMutableBufferPointer(start: scores + row * length, count: length))
        }
        unsafe BLAS.multiply(scores, lda: length, value + offset, ldb: width,
                      into: context + offset, ldc: width, m: length, n: headSize, k: length)
    }
}
