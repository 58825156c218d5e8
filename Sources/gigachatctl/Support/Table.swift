/// Aligned columns for people: a bold header (on a terminal), numbers right-aligned, the last column
/// never padded so that lines carry no trailing blanks.
struct Table {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns whose cells are right-aligned (counts, sizes).
    var rightAligned: Set<Int> = []

    init(_ headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    /// Cells come from the API (file names, model ids), so their control characters are made visible
    /// on a terminal.
    func render(style: Style = .standardOutput, filter: TerminalFilter = .standardOutput()) -> String {
        let headers = headers.map { filter($0) }
        let rows = rows.map { $0.map { filter($0) } }
        var widths = headers.map(\.terminalWidth)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.terminalWidth)
            }
        }
        var output = ""
        func line(_ cells: [String], header: Bool) {
            var text = ""
            for (column, cell) in cells.enumerated() {
                let last = column == cells.count - 1
                let gap = String(repeating: " ", count: max(0, widths[column] - cell.terminalWidth))
                let shown = header ? style.bold(cell) : cell
                if column > 0 { text += "  " }
                if rightAligned.contains(column) {
                    text += gap + shown
                } else {
                    text += last ? shown : shown + gap
                }
            }
            output += text + "\n"
        }
        line(headers, header: true)
        for row in rows { line(row, header: false) }
        return output
    }

    /// `key  value` lines for one object, nested objects flattened to `outer.inner`.
    static func keyValue(
        _ pairs: [(String, String)], style: Style = .standardOutput, filter: TerminalFilter = .standardOutput()
    ) -> String {
        let pairs = pairs.map { (filter($0.0), filter($0.1)) }
        let width = pairs.map(\.0.terminalWidth).max() ?? 0
        var output = ""
        for (key, value) in pairs {
            let gap = String(repeating: " ", count: width - key.terminalWidth)
            output += style.bold(key) + gap + "  " + value + "\n"
        }
        return output
    }
}
