import WeightsPlatform

/// Wall-clock timing for the benchmark modes.
enum Timing {
    static func now() -> Double {
        var time = timespec()
        unsafe clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The calling thread's CPU time in seconds: for one-thread kernels on a shared machine,
    /// where wall time also counts the other processes that ran meanwhile.
    static func threadCPUTime() -> Double {
        var time = timespec()
        unsafe clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Runs `body` `repeats` times and returns each run's seconds.
    static func measure(repeats: Int, _ body: () throws -> Void) rethrows -> [Double] {
        try (0..<repeats).map { _ in
            let start = now()
            try body()
            return now() - start
        }
    }

    /// Prints the result line the drivers parse.
    static func report(_ mode: String, _ seconds: [Double], extra: String = "") {
        let list = seconds.map { String($0) }.joined(separator: ",")
        print("{\"mode\":\"\(mode)\",\"seconds\":[\(list)]\(extra.isEmpty ? "" : "," + extra)}")
    }
}

/// `value` of option `--name value` in `arguments`, or `fallback`.
func option(_ name: String, in arguments: [String], default fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: "--" + name), index + 1 < arguments.count,
          let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
