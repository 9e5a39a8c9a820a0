// The platform layer: the one place that names the C library.
//
// Every Swift target of the package that calls the operating system imports this module
// instead of repeating the `#if canImport(Glibc) … #elseif canImport(Musl) … #endif` block: it
// re-exports the system's C library (Glibc, Musl or Darwin) and `CWeightsSystem`, the calls
// that library leaves out (`sync_file_range`, the SIGBUS guard of mappings of shrinking files,
// temporary files removed on SIGINT). Its types of its own are `LockedValue`, the lock the
// package's threads share state under (a POSIX mutex, which ThreadSanitizer understands), and
// `DetachedThread`, a POSIX thread of one's own (in place of Foundation's `Thread`). It has
// no system dependency, so the light core keeps building with the toolchain alone.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#else
#error("Weights needs a POSIX C library: Glibc, Musl or Darwin")
#endif
@_exported import CWeightsSystem
