import HummingbirdCore
import Logging
import NIOCore

/// Runs each connection's Hummingbird handler on the event loop that owns the connection.
///
/// Hummingbird reads a connection through `NIOAsyncChannel`: the event loop decodes each request
/// part and hands it to the handler's task, and the handler hands each response part back. When
/// that task runs on other threads (`ServerExecutor`'s), every hand-over wakes a thread through
/// a condition variable and switches context, a few times per request; on the connection's own
/// loop a part resumes the handler in the same turn of the loop, with no wake-up. Event loops
/// are NIO's threads, not Swift's cooperative pool, so a busy test process still cannot starve
/// the server, which is what `ServerExecutor` is for (it keeps the server's other tasks).
struct EventLoopBoundChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

/// A task executor that runs its jobs on one event loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
