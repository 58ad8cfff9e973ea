import Foundation
import ForwarderCore

/// One write to the folder at one moment: what live mode does, as a value.
///
/// Every operation leaves the file's modification time at `time`, as the write itself would.
public struct FolderWriteOperation: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case createDirectory
        /// Creates the file (replacing any of that name) with these first bytes.
        case create(Data)
        /// Adds bytes at the end of the file.
        case append(Data)
        /// The writer closes the file: it is complete and its modification time is final.
        case finish
    }

    public var time: FileTime
    /// Path relative to the folder.
    public var name: String
    public var action: Action

    public init(time: FileTime, name: String, action: Action) {
        self.time = time
        self.name = name
        self.action = action
    }
}

/// The time-ordered writes that build a plan's folder as time passes.
///
/// Binaries grow in chunks from their download start to their finish; each report is created
/// after its delay, which is always after its binary's `.finish`; monitor logs grow a line per
/// call-in. The sequence is lazy: an event's bytes are generated only when the merge reaches
/// its download start, so memory holds only the writes still pending, not the whole folder.
public struct LiveWriteSchedule: Sequence, Sendable {
    public let plan: FolderPlan

    public init(plan: FolderPlan) { self.plan = plan }

    public func makeIterator() -> Iterator { Iterator(plan: plan) }

    /// The operations in order, for tests and small folders.
    public var operations: [FolderWriteOperation] { Array(self) }

    /// Something that starts writing at one moment and yields all of its operations at once.
    enum Job: Sendable {
        case directory(String)
        case noise(Int)
        case event(Int)
        case session(Int)
    }

    public struct Iterator: IteratorProtocol, Sendable {
        let plan: FolderPlan
        private var jobs: [(start: FileTime, job: Job)]
        private var nextJobIndex = 0
        private var pending = OperationHeap()
        private var sequenceNumber = 0
        private var unitsWithMonitorLog = Set<Int>()

        init(plan: FolderPlan) {
            self.plan = plan
            var jobs: [(start: FileTime, job: Job)] = plan.directoryNames.map { (plan.periodStart, .directory($0)) }
            jobs += plan.noiseFiles.indices.map { (plan.noiseFiles[$0].modificationTime, .noise($0)) }
            jobs += plan.events.indices.map { (plan.events[$0].downloadStart, .event($0)) }
            jobs += plan.monitorLogSessions.indices.map { (plan.monitorLogSessions[$0].time, .session($0)) }
            // A stable sort keeps directories before the files created at the same moment.
            self.jobs = jobs.enumerated().sorted { left, right in
                (left.element.start, left.offset) < (right.element.start, right.offset)
            }.map(\.element)
        }

        public mutating func next() -> FolderWriteOperation? {
            while nextJobIndex < jobs.count, pending.minimumTime.map({ jobs[nextJobIndex].start <= $0 }) ?? true {
                let job = jobs[nextJobIndex].job
                nextJobIndex += 1
                for operation in operations(of: job) {
                    pending.insert(operation, sequence: sequenceNumber)
                    sequenceNumber += 1
                }
            }
            return pending.popMinimum()
        }

        private mutating func operations(of job: Job) -> [FolderWriteOperation] {
            switch job {
            case .directory(let name):
                return [FolderWriteOperation(time: plan.periodStart, name: name, action: .createDirectory)]
            case .noise(let index):
                let file = plan.noiseFiles[index]
                return [FolderWriteOperation(time: file.modificationTime, name: file.name,
                                             action: .create(EventFileContents.noise(file.content)))]
            case .event(let index):
                return Self.eventOperations(plan.events[index], plan: plan)
            case .session(let index):
                let session = plan.monitorLogSessions[index]
                let unit = plan.units[session.unitIndex]
                let line = Data(EventFileContents.monitorLogLine(for: session))
                if unitsWithMonitorLog.insert(session.unitIndex).inserted {
                    return [FolderWriteOperation(time: session.time, name: unit.monitorLogName,
                                                 action: .create(Data(EventFileContents.monitorLogPreamble(for: unit)) + line))]
                }
                return [FolderWriteOperation(time: session.time, name: unit.monitorLogName, action: .append(line))]
            }
        }

        /// The binary in growing chunks, then its reports.
        static func eventOperations(_ event: PlannedEvent, plan: FolderPlan) -> [FolderWriteOperation] {
            var random = SeededRandom(seed: event.contentSeed).derived("chunks")
            var chunkTimes = [event.downloadStart]
            while let last = chunkTimes.last, last + plan.options.profile.binaryChunkInterval.upperBound < event.binaryFinish {
                chunkTimes.append(last + random.duration(in: plan.options.profile.binaryChunkInterval))
            }
            chunkTimes.append(event.binaryFinish)
            let binary = EventFileContents.binary(for: event)
            let chunkByteCount = Swift.max(1, binary.count / chunkTimes.count)
            var operations: [FolderWriteOperation] = []
            var offset = 0
            for (index, time) in chunkTimes.enumerated() {
                let end = index == chunkTimes.count - 1 ? binary.count : Swift.min(binary.count, offset + chunkByteCount)
                let chunk = Data(binary[offset..<end])
                offset = end
                operations.append(FolderWriteOperation(time: time, name: event.binaryFileName,
                                                       action: index == 0 ? .create(chunk) : .append(chunk)))
            }
            operations.append(FolderWriteOperation(time: event.binaryFinish, name: event.binaryFileName, action: .finish))
            let reportFiles = event.reportFiles
            if !reportFiles.isEmpty {
                let report = EventFileContents.report(for: event, unit: plan.units[event.unitIndex])
                for file in reportFiles {
                    operations.append(FolderWriteOperation(time: file.time, name: file.name, action: .create(report)))
                    operations.append(FolderWriteOperation(time: file.time, name: file.name, action: .finish))
                }
            }
            return operations
        }
    }
}

/// A binary min-heap of operations by (time, insertion order), so equal times keep their order.
struct OperationHeap: Sendable {
    private var elements: [(operation: FolderWriteOperation, sequence: Int)] = []

    var minimumTime: FileTime? { elements.first?.operation.time }

    private func precedes(_ left: Int, _ right: Int) -> Bool {
        (elements[left].operation.time, elements[left].sequence) < (elements[right].operation.time, elements[right].sequence)
    }

    mutating func insert(_ operation: FolderWriteOperation, sequence: Int) {
        elements.append((operation, sequence))
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMinimum() -> FolderWriteOperation? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let minimum = elements.removeLast().operation
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < elements.count, precedes(left, smallest) { smallest = left }
            if right < elements.count, precedes(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
        return minimum
    }
}
