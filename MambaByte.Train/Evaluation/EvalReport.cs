using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;
using MambaByte.Core.Files;

namespace MambaByte.Train.Evaluation;

/// <summary>
/// The result of <c>mambabyte eval</c>: the model, the main rows (one per dataset: windowed, and for Mamba also
/// carried-state) and the context sweep (bits-per-byte against evaluation context length). Writes itself as JSON,
/// Markdown and CSV.
/// </summary>
public sealed record EvalReport(
    string Checkpoint, string Architecture, long Parameters, double FlopsPerByte,
    IReadOnlyList<EvalRow> Results, IReadOnlyList<EvalRow> ContextSweep)
{
    public JsonObject ToJson()
    {
        EvalRow first = Results[0];
        JsonObject Row(EvalRow r) => new()
        {
            ["data"] = r.Data, ["split"] = r.Split, ["method"] = r.Method, ["context"] = r.Context, ["stride"] = r.Stride,
            ["bits_per_byte"] = r.BitsPerByte, ["bytes_scored"] = r.BytesScored,
        };
        return new JsonObject
        {
            ["bits_per_byte"] = first.BitsPerByte,
            ["bytes_scored"] = first.BytesScored,
            ["method"] = first.Method,
            ["context"] = first.Context,
            ["model"] = new JsonObject
            {
                ["checkpoint"] = Checkpoint, ["architecture"] = Architecture, ["parameters"] = Parameters, ["flops_per_byte"] = FlopsPerByte,
            },
            ["results"] = new JsonArray(Results.Select(r => (JsonNode)Row(r)).ToArray()),
            ["context_sweep"] = new JsonArray(ContextSweep.Select(r => (JsonNode)Row(r)).ToArray()),
        };
    }

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine("# Evaluation report").AppendLine();
        md.AppendLine($"- checkpoint: `{Checkpoint}`");
        md.AppendLine($"- model: {Architecture}, {Parameters:N0} parameters, {FlopsPerByte:G4} forward FLOPs per byte").AppendLine();
        md.AppendLine("## Bits per byte").AppendLine();
        md.AppendLine("| data | split | method | context | stride | bits/byte | bytes scored |");
        md.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: |");
        foreach (EvalRow r in Results)
            md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Data} | {r.Split} | {r.Method} | {r.Context} | {r.Stride} | {r.BitsPerByte:F4} | {r.BytesScored:N0} |");
        if (ContextSweep.Count > 0)
        {
            md.AppendLine().AppendLine("## Bits per byte against evaluation context (length extrapolation)").AppendLine();
            int[] contexts = ContextSweep.Select(r => r.Context).Distinct().ToArray();
            md.AppendLine("| data | split | " + string.Join(" | ", contexts.Select(c => $"ctx {c}")) + " |");
            md.AppendLine("| --- | --- | " + string.Join(" | ", contexts.Select(_ => "---:")) + " |");
            foreach (var group in ContextSweep.GroupBy(r => (r.Data, r.Split)))
                md.AppendLine($"| {group.Key.Data} | {group.Key.Split} | " + string.Join(" | ", contexts.Select(c =>
                    group.FirstOrDefault(r => r.Context == c) is { } row ? row.BitsPerByte.ToString("F4", CultureInfo.InvariantCulture) : "")) + " |");
        }
        return md.ToString();
    }

    public void WriteCsv(TextWriter writer)
    {
        using var csv = CsvWriter.Create(writer, null, leaveOpen: true);
        csv.WriteHeader(["table", "data", "split", "method", "context", "stride", "bits_per_byte", "bytes_scored", "architecture", "parameters"]);
        foreach ((string table, EvalRow r) in Results.Select(r => ("results", r)).Concat(ContextSweep.Select(r => ("context_sweep", r))))
            csv.WriteRecord([table, r.Data, r.Split, r.Method, I(r.Context), I(r.Stride), r.BitsPerByte.ToString("R", CultureInfo.InvariantCulture), I(r.BytesScored), Architecture, I(Parameters)]);
        csv.Flush();
    }

    /// <summary>Writes report.md, report.json and report.csv into <paramref name="directory"/>, each via a temporary name.</summary>
    public void WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteText(Path.Combine(directory, "report.md"), w => w.Write(ToMarkdown()));
        AtomicFile.WriteText(Path.Combine(directory, "report.json"), w => w.Write(ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
        AtomicFile.WriteText(Path.Combine(directory, "report.csv"), WriteCsv);
    }

    static string I(long value) => value.ToString(CultureInfo.InvariantCulture);
}
