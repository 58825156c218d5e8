/// How soon a request should get an upstream slot.
public enum Priority: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Background work: `"priority": "batch"`.
    case batch = 0
    /// Requests that say nothing.
    case normal = 1
    /// Someone is waiting at a terminal: gigachatctl on a tty, or `"priority": "interactive"`.
    case interactive = 2

    public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .batch: return "batch"
        case .normal: return "normal"
        case .interactive: return "interactive"
        }
    }

    public init?(name: String) {
        switch name {
        case "batch": self = .batch
        case "normal": self = .normal
        case "interactive": self = .interactive
        default: return nil
        }
    }

    /// A request's `priority` param: absent or null means `normal`.
    public static func parse(_ value: JSONValue?) throws(RPCError) -> Priority {
        guard let value, !value.isNull else { return .normal }
        guard let name = value.stringValue, let priority = Priority(name: name) else {
            throw RPCError(.invalidParams, "Invalid params: \"priority\" must be \"interactive\", \"normal\" or \"batch\"")
        }
        return priority
    }
}

/// The order in which waiting requests get upstream slots, as a pure value the limiter can hold.
///
/// Higher priorities go first, with a bound: a class that has waited while `starvationBound` requests
/// of higher classes were served gets the next turn (the highest such class first), so batch work always
/// moves (with the default 4: four interactive turns, then one batch turn, as long as both wait). Within a class, owners (client
/// connections) take turns round robin and each owner's requests stay in order, so one script's backlog
/// delays another client by one turn, not by the backlog.
public struct FairPriorityQueue<Element> {
    public typealias Ticket = UInt64

    fileprivate struct Entry {
        var ticket: Ticket
        var element: Element
    }

    fileprivate struct Lane {
        var queues: [UInt64: [Entry]] = [:]
        /// Owners with entries, in the order of their next turn.
        var turns: [UInt64] = []
        var count = 0
    }

    public let starvationBound: Int
    private var lanes: [Lane] = Array(repeating: Lane(), count: Priority.allCases.count)
    /// Per class: turns served to higher classes while this one waited.
    private var passedOver: [Int] = Array(repeating: 0, count: Priority.allCases.count)
    private var placement: [Ticket: (owner: UInt64, priority: Priority)] = [:]
    private var nextTicket: Ticket = 0

    public init(starvationBound: Int = 4) {
        self.starvationBound = max(1, starvationBound)
    }

    public var count: Int { placement.count }
    public var isEmpty: Bool { placement.isEmpty }

    public func count(of priority: Priority) -> Int { lanes[priority.rawValue].count }

    /// Adds `element` behind the owner's earlier entries of the same priority.
    @discardableResult
    public mutating func enqueue(_ element: Element, owner: UInt64, priority: Priority) -> Ticket {
        nextTicket &+= 1
        let ticket = nextTicket
        var lane = lanes[priority.rawValue]
        if lane.queues[owner, default: []].isEmpty { lane.turns.append(owner) }
        lane.queues[owner, default: []].append(Entry(ticket: ticket, element: element))
        lane.count += 1
        lanes[priority.rawValue] = lane
        placement[ticket] = (owner, priority)
        return ticket
    }

    /// Takes a waiting entry out (its request was cancelled); nil when it is no longer queued.
    public mutating func remove(_ ticket: Ticket) -> Element? {
        guard let (owner, priority) = placement.removeValue(forKey: ticket) else { return nil }
        var lane = lanes[priority.rawValue]
        guard var queue = lane.queues[owner], let index = queue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        let entry = queue.remove(at: index)
        lane.count -= 1
        if queue.isEmpty {
            lane.queues[owner] = nil
            lane.turns.removeAll { $0 == owner }
        } else {
            lane.queues[owner] = queue
        }
        lanes[priority.rawValue] = lane
        return entry.element
    }

    /// The class whose turn it is: the highest one waiting, unless a lower one has been passed over
    /// `starvationBound` times (then the highest such).
    public func nextPriority() -> Priority? {
        let waiting = Priority.allCases.reversed().filter { lanes[$0.rawValue].count > 0 }
        guard let top = waiting.first else { return nil }
        return waiting.dropFirst().first { passedOver[$0.rawValue] >= starvationBound } ?? top
    }

    /// Takes the next entry to run.
    public mutating func dequeue() -> Element? {
        guard let chosen = nextPriority() else { return nil }
        // Only turns given to a higher class count as passing a class over; a lower class's starvation
        // turn does not push a middle class towards its own.
        for priority in Priority.allCases {
            if priority == chosen || lanes[priority.rawValue].count == 0 {
                passedOver[priority.rawValue] = 0
            } else if priority < chosen {
                passedOver[priority.rawValue] += 1
            }
        }
        var lane = lanes[chosen.rawValue]
        while !lane.turns.isEmpty {
            let owner = lane.turns.removeFirst()
            guard var queue = lane.queues[owner], !queue.isEmpty else { continue }
            let entry = queue.removeFirst()
            if queue.isEmpty {
                lane.queues[owner] = nil
            } else {
                lane.queues[owner] = queue
                lane.turns.append(owner)
            }
            lane.count -= 1
            lanes[chosen.rawValue] = lane
            placement[entry.ticket] = nil
            return entry.element
        }
        lanes[chosen.rawValue] = lane
        return nil
    }
}

extension FairPriorityQueue: Sendable where Element: Sendable {}
extension FairPriorityQueue.Entry: Sendable where Element: Sendable {}
extension FairPriorityQueue.Lane: Sendable where Element: Sendable {}
