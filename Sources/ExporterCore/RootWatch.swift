import FileWatching
import Logging
import Platform

/// The roots' own bookkeeping: whether each is there (said in the log when that changes, and in the snapshot),
/// and, while one is missing, the watch on its nearest existing parent that tells when it comes.
final class RootWatch {
    private let context: ScanContext
    /// For each missing root: the nearest existing parent (watched) and the next path component towards the root.
    private var ancestors: [RootDirectory: (path: String, next: String)] = [:]
    /// Whether each root was there at the last look (`nil` before the first), to log only changes.
    private var present = [Bool?](repeating: nil, count: RootDirectory.allCases.count)
    private var duplicateLogged = false

    init(context: ScanContext) {
        self.context = context
    }

    /// Whether each root is there, by index (for the snapshot).
    var presence: [Bool] { present.map { $0 ?? false } }

    /// Forgets the parents' watches (a reload sets everything up again).
    func reset() { ancestors = [:] }

    /// `root` exists: the watch on its parent is no longer needed.
    func stopAwaiting(_ root: RootDirectory) {
        if ancestors.removeValue(forKey: root) != nil { context.unwatch(.ancestor(root)) }
    }

    /// `root` is there and scanned; returns whether it had been seen missing (it appeared).
    @discardableResult
    func found(_ root: RootDirectory) -> Bool {
        let appeared = present[root.index] == false
        record(true, root)
        return appeared
    }

    /// `root` is not there (or, with `problem`, something that is not a directory stands in its place): watches its
    /// nearest existing parent for the next component towards it. Returns true when that component exists once the
    /// watch is in place (it was created meanwhile, and no event will say so): the caller looks again.
    @discardableResult
    func missing(_ root: RootDirectory, because problem: Errno? = nil) -> Bool {
        record(false, root, problem: problem)
        var child = context.path(of: root)
        var parent = parentPath(child)
        while !context.isDirectory(parent) {
            if parent == "/" || parent == "." { return false }
            child = parent
            parent = parentPath(parent)
        }
        let next = lastComponent(child)
        if let current = ancestors[root], current.path == parent,
            context.watches.descriptor(for: .ancestor(root)) != nil
        {
            ancestors[root] = (parent, next)
            return false
        }
        context.unwatch(.ancestor(root))
        ancestors[root] = (parent, next)
        _ = context.watch(.ancestor(root), parent)
        context.logger.debug(
            "waiting for directory to appear",
            metadata: ["path": "\(context.path(of: root))", "watching": "\(parent)"]
        )
        // `mkdir -p` creates the next folder right after the one just found: it may be there already.
        return problem == nil && context.watches.descriptor(for: .ancestor(root)) != nil && context.isDirectory(child)
    }

    /// `root` is the same directory as another of its list (a symbolic link): not counted, not awaited, said once.
    func duplicate(_ root: RootDirectory, of other: String) {
        stopAwaiting(root)
        guard present[root.index] != false || !duplicateLogged else { return }
        present[root.index] = false
        duplicateLogged = true
        context.logger.notice(
            "\(context.path(of: root)) is the same directory as \(other); counted once",
            metadata: ["setting": "\(root.variable)"]
        )
    }

    /// Whether an event named `name` in the watched parent of `root` may mean the root (or a folder on its way) came.
    func isOnTheWay(_ name: String, to root: RootDirectory) -> Bool {
        ancestors[root]?.next == name
    }

    /// The parent's watch itself ended.
    func ancestorWatchEnded(_ root: RootDirectory) { ancestors[root] = nil }

    /// Says when a root's presence changes (at startup either way): a missing root is the usual reason for metrics
    /// that stay 0, so it is a warning when any of its sources drives activity.
    private func record(_ isPresent: Bool, _ root: RootDirectory, problem: Errno? = nil) {
        guard present[root.index] != isPresent else { return }
        let first = present[root.index] == nil
        present[root.index] = isPresent
        let path = context.path(of: root)
        let metadata: Logger.Metadata = ["path": "\(path)", "setting": "\(root.variable)"]
        if isPresent {
            if !first { context.logger.notice("directory appeared; watching it", metadata: metadata) }
        } else if let problem {
            // Something else stands there: not "to be created". An unhealthy root has said so as an error already.
            guard !root.unreadableIsUnhealthy else { return }
            context.logger.warning(
                "\(path) is not a directory; waiting for a directory there",
                metadata: metadata.merging(["error": "\(problem)"]) { $1 }
            )
        } else if root.holdsAny(of: context.settings.drivingSources) && !context.settings.listedRoots.contains(root) {
            context.logger.warning("\(root.waitingMessage(path: path))", metadata: metadata)
        } else {
            context.logger.notice("\(root.waitingMessage(path: path))", metadata: metadata)
        }
    }
}
