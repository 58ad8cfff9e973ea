import ForwarderSimulation

// What the mock's journal says about re-sends; the journal must be large enough to hold the
// whole run, which callers ensure with `journalCapacity`.
extension MockSFM {
    /// Requests whose answer a fault rule replaced after the upload was stored ("response lost
    /// after commit"): the client saw a failure, so each may be sent again. A request that was
    /// itself a re-send counts as well: its loss causes another re-send just the same.
    public func responsesLostAfterCommit() -> Int {
        journal().filter { $0.fault?.afterStore == true && !$0.files.isEmpty }.count
    }

    /// Requests the server handled that changed nothing there: every file already stored as
    /// sent (a binary or a report re-sent). Requests a fault stopped before storing are not
    /// among them: the server never took those.
    public func uploadsThatChangedNothing() -> Int {
        journal().filter { entry in
            let handled = entry.outcome == .imported || (entry.outcome == .faulted && entry.fault?.afterStore != false)
            return handled && !entry.stored && entry.rows.contains { $0.skipped == 1 }
        }.count
    }
}
