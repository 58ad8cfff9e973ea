import ForwarderCore
import Logging

/// Says in the log when the state stops being writable and when it is writable again, once per
/// change rather than at every pass.
///
/// A full disk on an unwatched PC may last days of one-minute passes; a line per pass would
/// bury everything else (and fill the log's disk too).
struct UnwritableStateLog {
    let logger: Logger
    /// The error of the last pass, while the state cannot be written.
    private var problem: String?
    /// Passes in a row that could not write the state.
    private var passes = 0
    /// Why the last pass's report for `status` could not be saved, while it cannot.
    private var lastPassProblem: String?

    init(logger: Logger) {
        self.logger = logger
    }

    mutating func passFinished(_ report: PassReport) {
        if let current = report.stateUnwritable {
            passes += 1
            if current != problem {
                logger.error("state unwritable: \(current); no upload starts until it can be written, and each pass tries again",
                             metadata: ["state.unwritable_passes": "\(passes)"])
            }
            problem = current
        } else if problem != nil {
            logger.notice("state writable again after \(passes) \(passes == 1 ? "pass" : "passes"); uploads resume",
                          metadata: ["state.unwritable_passes": "\(passes)"])
            problem = nil
            passes = 0
        }
    }

    /// The pass report for `status` could not be saved (a full disk may refuse it while the
    /// journal still has room in its last block); said once, as for the state.
    mutating func lastPassNotSaved(_ error: StateFileError) {
        let current = error.description
        if current != lastPassProblem {
            logger.warning("cannot save the last pass for `status`: \(current)")
        }
        lastPassProblem = current
    }

    mutating func lastPassSaved() {
        guard lastPassProblem != nil else { return }
        logger.notice("the last pass for `status` is saved again")
        lastPassProblem = nil
    }
}
