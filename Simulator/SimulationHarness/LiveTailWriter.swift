import ForwarderCore
import ForwarderSimulation
import Foundation

/// Writes a live schedule into a real folder as time passes, with long quiet gaps shortened.
///
/// ACH traffic comes in bursts (a call-in downloads several events) separated by hours of
/// nothing; a demo or test wants the bursts at their real pace, scaled by `speed`, without
/// waiting through the hours between them. Each write happens at real time, so modification
/// times are what the forwarder's quiescence rules see on a real PC.
public struct LiveTailWriter: Sendable {
    public let directoryPath: String
    public let speed: Double
    /// Simulated quiet longer than this between two writes is cut to this.
    public let maximumQuietGap: Duration

    public init(directoryPath: String, speed: Double, maximumQuietGap: Duration = .seconds(30)) {
        self.directoryPath = directoryPath
        self.speed = speed
        self.maximumQuietGap = maximumQuietGap
    }

    /// Carries out `schedule`; returns the number of files created.
    public func write(_ schedule: LiveWriteSchedule) async throws -> Int {
        let clock = ContinuousClock()
        var wallTarget = clock.now
        var previousTime: FileTime?
        var created = 0
        for operation in schedule {
            if let previousTime {
                let gap = min(max(operation.time - previousTime, .zero), maximumQuietGap)
                wallTarget = wallTarget.advanced(by: gap / speed)
                try await Task.sleep(until: wallTarget, clock: clock)
            }
            previousTime = operation.time
            let path = (directoryPath as NSString).appendingPathComponent(operation.name)
            switch operation.action {
            case .createDirectory:
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case .create(let bytes):
                try bytes.write(to: URL(fileURLWithPath: path))
                created += 1
            case .append(let bytes):
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: bytes)
                try handle.close()
            case .finish:
                break
            }
        }
        return created
    }
}
