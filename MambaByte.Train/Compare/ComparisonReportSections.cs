using System.Globalization;
using System.Text;

namespace MambaByte.Train.Compare;

/// <summary>
/// The parts of report.md beyond the main table and generation speed: the throughput note under the main table,
/// bits-per-byte against evaluation context (table, footnoted reasons for n/a, chart) and each model's sample.
/// </summary>
public static class ComparisonReportSections
{
    /// <summary>"1024: 2.1234, 4096: n/a" for the console.</summary>
    public static string ContextSummary(IReadOnlyList<ContextPoint> points) =>
        string.Join(", ", points.Select(p => $"{p.Context}: {Cell(p)}"));

    /// <summary>A main-table cell: training FLOP/s.</summary>
    public static string FlopsPerSecond(ArchitectureResult r) => r.TrainingFlopsPerSecond.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>A main-table cell: MFU in percent, or a dash without a measured peak.</summary>
    public static string Mfu(ArchitectureResult r) => r.Mfu is double mfu ? (mfu * 100).ToString("F2", CultureInfo.InvariantCulture) + " %" : "—";

    /// <summary>A main-table cell: document-level test bits-per-byte, or a dash when not measured.</summary>
    public static string DocumentBitsPerByte(ArchitectureResult r) =>
        r.DocumentBitsPerByte is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "—";

    public static void AppendThroughputNote(StringBuilder md, ComparisonReport report)
    {
        string peak = report.PeakFlopsPerSecond > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{report.PeakFlopsPerSecond / 1e9:F1} GFLOP/s, the best of four fp32 1024³ matmuls measured as this invocation started")
            : "not measured";
        md.AppendLine("Test bits/byte (windowed): windows of the training context back to back, every test byte after the first scored once. " +
                      "Test bits/byte (document): lm-evaluation-harness's document-level figure (`mambabyte eval --method document`): every byte of every test document, " +
                      "each document read alone after its start byte — Mamba through its recurrent state over the whole document, the attention models in rolling windows of the training context. ");
        md.AppendLine($"Training FLOP/s = training FLOPs / training time (the run's wall time, its validation passes included); MFU = that / the matmul peak ({peak}).");
    }

    public static void AppendContexts(StringBuilder md, ComparisonReport report)
    {
        var contexts = report.Architectures.SelectMany(r => r.ContextSweep).Select(p => p.Context).Distinct().Order().ToList();
        if (contexts.Count == 0) return;
        md.AppendLine("## Bits per byte against evaluation context");
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Each trained model scores the same {report.TestBytes:N0} test bytes with windows of N bytes back to back (every byte scored once; each window starts from an empty context); the column heads give N also as a multiple of the training context, {report.Context} bytes{(contexts.Contains(report.Context) ? ", whose column is the windowed test score above" : "")}. MambaByte's claim is that its score holds at windows of 4× and more."));
        md.AppendLine();
        md.AppendLine("| architecture | " + string.Join(" | ", contexts.Select(c => string.Create(CultureInfo.InvariantCulture, $"N = {c:N0} ({EvaluationContexts.Multiple(c, report.Context)})"))) + " | windows longer than trained |");
        md.AppendLine("|---|" + string.Concat(contexts.Select(_ => "---:|")) + "---|");
        var notes = new List<string>();
        foreach (ArchitectureResult r in report.Architectures)
        {
            var cells = contexts.Select(c =>
            {
                ContextPoint? point = r.ContextSweep.FirstOrDefault(p => p.Context == c);
                if (point is null) return "—";
                if (point.Unavailable is null) return Cell(point);
                string note = $"{r.Architecture}: {point.Unavailable}";
                if (!notes.Contains(note)) notes.Add(note);
                return $"n/a [{notes.IndexOf(note) + 1}]";
            }).ToList();
            md.AppendLine($"| {r.Architecture} | {string.Join(" | ", cells)} | {ContextSweep.Handling(r.Architecture)} |");
        }
        md.AppendLine();
        for (int i = 0; i < notes.Count; i++) md.AppendLine($"[{i + 1}] {notes[i]}. ");
        long whole = Math.Max(1, report.TestBytes - 1);
        if (contexts.Any(c => c >= whole))
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"A window of {whole:N0} bytes or more holds the whole test text: such an entry scores it in one window."));
        if (notes.Count > 0 || contexts.Any(c => c >= whole)) md.AppendLine();
        md.AppendLine($"![{Path.GetFileNameWithoutExtension(ComparisonPlots.ContextChart)}]({ComparisonPlots.ContextChart})");
        md.AppendLine();
    }

    public static void AppendSamples(StringBuilder md, ComparisonReport report)
    {
        if (report.Sampling is not { } s || report.Architectures.All(r => r.Sample is null)) return;
        md.AppendLine("## Samples");
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Each model continues the same prompt with `mambabyte generate`'s sampler: {s.Bytes} bytes, temperature {s.Temperature}, top-k {s.TopK}, seed {s.Seed} (the prompt is the first line of each block; bytes that are not valid UTF-8 show as U+FFFD)."));
        md.AppendLine();
        foreach (ArchitectureResult r in report.Architectures)
        {
            if (r.Sample is null) continue;
            string text = s.Prompt + r.Sample;
            string fence = Fence(text);
            md.AppendLine($"**{r.Architecture}**");
            md.AppendLine();
            md.AppendLine(fence);
            md.AppendLine(text);
            md.AppendLine(fence);
            md.AppendLine();
        }
    }

    static string Cell(ContextPoint p) =>
        p.BitsPerByte is double b ? b.ToString("F4", CultureInfo.InvariantCulture) : "n/a";

    /// <summary>A code fence longer than any run of backticks in <paramref name="text"/> (at least three).</summary>
    static string Fence(string text)
    {
        int longest = 0, run = 0;
        foreach (char c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        return new string('`', Math.Max(3, longest + 1));
    }
}
