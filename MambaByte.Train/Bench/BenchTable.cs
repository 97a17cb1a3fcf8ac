using Spectre.Console;

namespace MambaByte.Train.Bench;

/// <summary>A titled table of strings, rendered with Spectre.Console on an interactive terminal and as aligned plain text otherwise.</summary>
public sealed class BenchTable(string title, params string[] headers)
{
    readonly List<string[]> rows = [];

    public string Title => title;

    public BenchTable Add(params string[] cells)
    {
        if (cells.Length != headers.Length) throw new ArgumentException($"bench table '{title}': {cells.Length} cells for {headers.Length} columns");
        rows.Add(cells);
        return this;
    }

    public void Write(TextWriter output, bool interactive)
    {
        if (interactive)
        {
            var table = new Table { Title = new TableTitle(title) };
            foreach (string header in headers) table.AddColumn(new TableColumn(Markup.Escape(header)).RightAligned());
            foreach (string[] row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            console.Write(table);
            return;
        }
        output.WriteLine(title);
        output.Write(ToMarkdown());
        output.WriteLine();
    }

    /// <summary>A Markdown (GitHub) table, also the plain-text form: readable as is and pasteable into the README.</summary>
    public string ToMarkdown()
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new System.Text.StringBuilder();
        string Line(IEnumerable<string> cells) => "| " + string.Join(" | ", cells.Select((c, i) => c.PadLeft(widths[i]))) + " |";
        text.AppendLine(Line(headers));
        text.AppendLine("|" + string.Join("|", widths.Select(w => new string('-', w + 1) + ":")) + "|");
        foreach (string[] row in rows) text.AppendLine(Line(row));
        return text.ToString();
    }
}
