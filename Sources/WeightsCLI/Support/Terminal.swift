import Weights

import WeightsPlatform

/// Output helpers shared by the subcommands.
enum Terminal {
    static func printError(_ line: String) {
        var standardError = StandardError()
        print(line, to: &standardError)
    }

    struct StandardError: TextOutputStream {
        mutating func write(_ string: String) {
            var text = string
            text.withUTF8 { _ = unsafe systemWrite(STDERR_FILENO, $0.baseAddress, $0.count) }  // Sound: the bytes, lent inside `withUTF8`, with their count.
        }
    }

    static func exit(_ code: Int32) -> Never { systemExit(code) }
}

extension Terminal {
    /// Writes `text` to standard error as is, without a newline.
    static func writeError(_ text: String) {
        var standardError = StandardError()
        standardError.write(text)
    }
}

/// `write(2)` and `exit(3)`, under names that `Terminal`'s own members don't shadow, so the
/// calls resolve in whichever C library the platform has.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { unsafe write(fd, buffer, count) }  // Sound: the caller passes `count` readable bytes.
private func systemExit(_ code: Int32) -> Never { exit(code) }
