import Foundation
import Testing

/// `forwarder-sim bench --processes`: the forwarder and the mock each in a process of its own.
@Suite("Bench processes")
struct BenchProcessesTests {
    @Test("Bench: --processes forwards the whole folder to serve and reports each side's CPU per event")
    func processes() async throws {
        let executable = ServeCommandTests.executable
        try #require(FileManager.default.isExecutableFile(atPath: executable.path),
                     "build the package first (swift build --build-tests): \(executable.path)")
        let directory = try makeTemporaryDirectory("bench-processes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, printed, progress) = try await InteropTests.run(
            [executable.path, "bench", "--processes", "--events", "12", "--repeat", "2", "--seed", "5",
             "--work-directory", directory.path])
        #expect(status == 0, "\(printed)\n\(progress)")
        #expect(printed.contains("seed: 5"))
        #expect(printed.contains("full forward, mock in its own process, 12 events, no cap"))
        #expect(printed.contains("forwarder CPU (user + sys) per uploaded event, 12 events"))
        #expect(printed.contains("mock CPU (user + sys) per imported event, 12 events"))
        let runs = progress.split(separator: "\n").filter { $0.contains("full forward, separate processes:") }
        #expect(runs.count == 2)
        #expect(runs.allSatisfy { $0.contains("12 forwarded") }, "\(runs)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("forwarder-bench-") }
        #expect(leftovers.isEmpty, "the bench removes its folders: \(leftovers)")
    }
}
