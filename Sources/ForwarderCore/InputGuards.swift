/// Checks that keep odd file names and failed reads from turning into damaged state or
/// misleading counts.
extension StateRecordCodec {
    /// True when `fileName` survives a round trip through a state line.
    ///
    /// A line is tab-separated and ends at a newline, and its name field must not be empty, so a
    /// name that breaks any of these would write a line the next start refuses as damaged.
    public static func isStorableFileName(_ fileName: String) -> Bool {
        !fileName.isEmpty && !fileName.utf8.contains(UInt8(ascii: "\t")) && !fileName.utf8.contains(UInt8(ascii: "\n"))
    }
}

extension SkipReason {
    /// Why a file listed as a regular file could not be read.
    ///
    /// A file that is gone, or is no longer a regular file, changed between listing and reading
    /// (it was moved, or swapped for a folder or a pipe) and the next listing decides afresh;
    /// only a file that is there and refuses to be read is `unreadable`.
    public init(readFailure error: any Error) {
        switch (error as? FolderError)?.kind {
        case .fileMissing, .notARegularFile: self = .changedWhileReading
        default: self = .unreadable
        }
    }
}
