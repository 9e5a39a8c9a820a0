/// Starting a thread of one's own: a POSIX thread, detached, that runs a closure once.
///
/// What Foundation's `Thread` gives, without Foundation: on Linux a process that imports
/// Foundation loads its internationalization library and ICU at start-up, about 4 ms a
/// process here (a program that prints the time: 8.4 ms importing `Foundation`, 4.4 ms
/// importing `FoundationEssentials`), which every `weights` command paid for the engine's
/// worker threads.
///
/// ```swift
/// DetachedThread.start(name: "weights-worker-1") { work() }
/// ```
package enum DetachedThread {
    /// Runs `body` on a new detached thread named `name` (cut to the 15 bytes Linux keeps), with
    /// the system's default attributes (stack size included).
    ///
    /// - Precondition: the system can create the thread (it fails only out of memory or over
    ///   the process's thread limit, where Foundation's `Thread.start()` fails too).
    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        // Sound: the retained launch goes to the new thread, which takes it back (releasing
        // it) first thing; when no thread can be made, it is released here instead.
        let argument = unsafe Unmanaged.passRetained(Launch(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let status = unsafe pthread_create(&thread, nil, { argument in
            // Sound: `argument` is the launch retained above, taken back exactly once.
            let launch = unsafe Unmanaged<Launch>.fromOpaque(argument!).takeRetainedValue()
            launch.run()
            return nil
        }, argument)
        guard status == 0 else {
            unsafe Unmanaged<Launch>.fromOpaque(argument).release()
            preconditionFailure("cannot start thread '\(name)': error \(status)")
        }
        pthread_detach(thread)
    }

    /// What the new thread needs: its name and its work.
    private final class Launch: Sendable {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }

        func run() {
            _ = unsafe weights_name_current_thread(name)  // Sound: the C string lives through the call, which copies it.
            body()
        }
    }
}
