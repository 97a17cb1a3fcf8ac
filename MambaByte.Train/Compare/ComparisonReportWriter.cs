using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MambaByte.Core.Files;

namespace MambaByte.Train.Compare;

/// <summary>Writes report.json, report.md and the PNG charts into the comparison's directory (each file atomically).</summary>
public static class ComparisonReportWriter
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static void Write(ComparisonReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        IReadOnlyList<string> charts = ComparisonPlots.Write(report, directory);
        AtomicFile.WriteAllText(Path.Combine(directory, JsonFile), JsonSerializer.Serialize(report, Json));
        AtomicFile.WriteAllText(Path.Combine(directory, MarkdownFile), Markdown(report, charts));
    }

    public static ComparisonReport Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such report", path);
        return JsonSerializer.Deserialize<ComparisonReport>(File.ReadAllText(path), Json)
               ?? throw new InvalidDataException($"{path}: empty report");
    }

    public static string Markdown(ComparisonReport report, IReadOnlyList<string> charts)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        string budget = report.BudgetFlops > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{report.BudgetFlops:G4} training FLOPs per architecture")
            : string.Create(CultureInfo.InvariantCulture, $"{report.BudgetMinutes:G4} minutes of training per architecture");
        Line($"# Comparison on {report.Data}");
        md.AppendLine();
        Line($"Matched {(report.Match == ArchitectureMatcher.MatchParams ? "parameter counts" : "training FLOPs per byte")} to Mamba at size `{report.Size}`; budget {budget}; context {report.Context}, batch {report.BatchSize}, seed {report.Seed}, peak lr {report.Lr}. ");
        Line($"Every architecture trained on the same `{report.TrainSplit}` windows in the same order; validation curves on `{report.EvalSplit}`; test score on the first {report.TestBytes:N0} bytes of `{report.TestSplit}` (windows of {report.Context}, every byte scored once). Wall time of this invocation: {report.WallSeconds:F0} s.");
        md.AppendLine();
        md.AppendLine("| architecture | test bits/byte (windowed) | test bits/byte (document) | final train bits/byte | final validation bits/byte | parameters | training FLOPs/byte | steps | bytes trained | training FLOPs | training time (s) | training FLOP/s | MFU | shape |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (ArchitectureResult r in report.Architectures)
            Line($"| {r.Architecture} | {r.TestBitsPerByte:F4} | {ComparisonReportSections.DocumentBitsPerByte(r)} | {r.FinalTrainBitsPerByte:F4} | {(r.FinalValidationBitsPerByte is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "—")} | {r.Parameters:N0} | {r.TrainingFlopsPerByte:G4} | {r.Steps:N0} | {r.BytesTrained:N0} | {r.TrainingFlops:G4} | {r.TrainingSeconds:F1} | {ComparisonReportSections.FlopsPerSecond(r)} | {ComparisonReportSections.Mfu(r)} | {r.Shape} |");
        md.AppendLine();
        ComparisonReportSections.AppendThroughputNote(md, report);
        md.AppendLine();
        md.AppendLine("## Generation speed (bytes/s, batch 1, after a prompt of N bytes)");
        md.AppendLine();
        Line($"Median of single-byte steps through each model's inference state, positions timed in alternating rounds, {GenerationSpeed.Threads} torch intra-op thread on the CPU.");
        md.AppendLine();
        var positions = report.Architectures.SelectMany(r => r.Generation).Select(g => g.Position).Distinct().Order().ToList();
        md.AppendLine("| architecture | " + string.Join(" | ", positions.Select(p => $"N = {p}")) + " |");
        md.AppendLine("|---|" + string.Concat(positions.Select(_ => "---:|")));
        foreach (ArchitectureResult r in report.Architectures)
            md.AppendLine($"| {r.Architecture} | " + string.Join(" | ", positions.Select(p =>
                r.Generation.FirstOrDefault(g => g.Position == p) is { } g ? g.BytesPerSecond.ToString("F0", CultureInfo.InvariantCulture) : "—")) + " |");
        md.AppendLine();
        ComparisonReportSections.AppendContexts(md, report);
        ComparisonReportSections.AppendSamples(md, report);
        md.AppendLine("## Charts");
        md.AppendLine();
        foreach (string chart in charts) md.AppendLine($"![{Path.GetFileNameWithoutExtension(chart)}]({chart})");
        md.AppendLine();
        md.AppendLine("## Runs");
        md.AppendLine();
        foreach (ArchitectureResult r in report.Architectures)
            md.AppendLine($"- {r.Architecture}: `{r.RunDirectory}` ({(r.TrainedNow ? "trained by this invocation" : "already trained: reused")})");
        md.AppendLine();
        md.AppendLine("## Command and versions");
        md.AppendLine();
        md.AppendLine("Run from this report's directory (its paths are relative to it):");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(report.Command);
        md.AppendLine("```");
        md.AppendLine();
        ComparisonVersions versions = report.Versions;
        Line($"mambabyte {versions.Mambabyte}; TorchSharp {versions.TorchSharp}; libtorch {versions.LibTorch}; {versions.DotNet}; {versions.Os}; {versions.Cpu}, {versions.Cores} cores, {versions.TorchThreads} torch threads; device {versions.Device}.");
        return md.ToString();
    }
}
