import FileWatching

/// The tracker's event paths: each inotify event handed to the part that owns its directory (the state stays the
/// tracker's; see ``ActivityTracker``).
extension ActivityTracker {
    // MARK: - Events

    /// Hands an event to the part that owns its directory.
    func apply(_ event: InotifyEvent) {
        let roles = context.watches.roles(of: event.descriptor)
        guard !roles.isEmpty else { return }
        guard let name = event.name else {
            if !event.mask.isDisjoint(with: .watchEnded) { watchEnded(event.descriptor, event.mask) }
            return
        }
        let structural = !event.mask.isDisjoint(with: InotifyMask.appeared.union(.disappeared))
        for role in roles {
            switch role {
            case .root(let root):
                for source in ActivitySource.sources(under: root) {
                    parts.rootEvent(name, of: source, structural: structural, &snapshot)
                }
            case .folder(let source, let folder):
                parts.folderEvent(name, in: folder, of: source, structural: structural, &snapshot)
            case .projects, .project, .sessionFolder, .subagents:
                parts.projects.handle(name: name, in: role, structural: structural)
            case .sessions:
                parts.registry.handle(name: name, &snapshot)
            case .ancestor(let root):
                if roots.isOnTheWay(name, to: root), structural || event.mask.contains(.attrib) {
                    establish(root)
                }
            }
        }
    }

    /// The watched directory itself was deleted, moved, or unmounted.
    func watchEnded(_ descriptor: WatchDescriptor, _ mask: InotifyMask) {
        let gone = context.watches.ended(descriptor, removedByKernel: mask.contains(.ignored))
        for role in gone {
            switch role {
            case .root(let root):
                context.unwatchTree(role)
                establish(root)
            case .ancestor(let root):
                roots.ancestorWatchEnded(root)
                establish(root)
            case .folder(let source, let folder):
                parts.folderWatchEnded(folder, of: source, &snapshot)
            case .sessions:
                parts.registry.folderChanged(&snapshot)
            case .projects, .project, .sessionFolder, .subagents:
                parts.projects.watchEnded(role)
            }
        }
    }
}
