using System.Globalization;
using System.Text.Json.Nodes;
using MambaByte.Core.Checkpoints;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Compare;
using MambaByte.Train.Training;

namespace MambaByte.Tests.Compare;

/// <summary>
/// What issue 16 asks of the comparison report beyond training curves: document-level test bits-per-byte, training
/// FLOP/s and MFU, bits-per-byte against evaluation context (with n/a and its reason where a model cannot run the
/// window) and one sample per model; each number checked against another path to it (the eval and generate
/// commands, metrics.csv, the model itself).
/// </summary>
public sealed class CompareReportContentsTests
{
    // The batch is compare's default (8 windows), not given, so the arguments name no option another change may rename.
    const int Context = 32, Batch = 8, SampleBytes = 40;
    const string Prompt = "And God said";

    static string[] Args(string outDirectory, ulong sampleSeed = 1) =>
    [
        "compare", "--data", "kjv", "--archs", "mamba,transformer,megabyte", "--match", "flops", "--size", "1",
        "--budget-flops", "1.5e8", "--context", $"{Context}", "--seed", "5", "--device", "cpu",
        "--out", outDirectory, "--evaluations", "1", "--eval-bytes", "256", "--test-bytes", "512", "--gen-positions", "8", "--gen-bytes", "2",
        "--sample-bytes", $"{SampleBytes}", "--sample-seed", $"{sampleSeed}",
    ];

    static (int Code, string Output, string Error) Run(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The cells of the Markdown table row that starts with <paramref name="start"/> (exactly one such line).</summary>
    static string[] Row(string markdown, string start) =>
        markdown.Split('\n').Single(l => l.StartsWith(start, StringComparison.Ordinal)).Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();

    static string F4(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    [Fact]
    public void Report_gives_document_score_flops_per_second_mfu_context_table_with_reasons_and_reproducible_samples()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string outDirectory = temp.File("cmp");
        (int code, string output, string error) = Run(Args(outDirectory));
        Assert.True(code == 0, output + error);
        ComparisonReport report = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        string markdown = File.ReadAllText(Path.Combine(outDirectory, ComparisonReportWriter.MarkdownFile));
        Assert.InRange(report.PeakFlopsPerSecond, 1e8, 1e14);
        string mainTable = markdown[..markdown.IndexOf("## Generation speed", StringComparison.Ordinal)];
        string contextSection = markdown[markdown.IndexOf("## Bits per byte against evaluation context", StringComparison.Ordinal)..markdown.IndexOf("## Samples", StringComparison.Ordinal)];

        string[] header = Row(mainTable, "| architecture | test bits/byte (windowed)");
        int Column(string name) => Array.IndexOf(header, name) is var i and >= 0 ? i : throw new InvalidOperationException($"no column '{name}'");
        string[] contextHeader = Row(contextSection, "| architecture | N = ");
        Assert.Equal(["architecture", "N = 32 (1×)", "N = 128 (4×)", "N = 512 (16×)", "windows longer than trained"], contextHeader);

        foreach (ArchitectureResult r in report.Architectures)
        {
            string run = ComparisonRunner.RunDirectory(outDirectory, r.Architecture);
            string checkpoint = MambaByte.Train.Runs.RunDirectory.Resolve(run);
            string[] cells = Row(mainTable, $"| {r.Architecture} | {F4(r.TestBitsPerByte)} |");

            // FLOP/s from metrics.csv's last row (bytes × FLOPs/byte ÷ seconds), and MFU against the report's peak.
            MetricsRow last = MetricsLog.Read(Path.Combine(run, "metrics.csv")).MaxBy(x => (x.Step, x.ElapsedSeconds))!;
            double flopsPerSecond = last.Bytes * r.TrainingFlopsPerByte / last.ElapsedSeconds;
            Assert.Equal(flopsPerSecond, r.TrainingFlopsPerSecond, flopsPerSecond * 1e-12);
            Assert.Equal((r.TrainingFlops / r.TrainingSeconds).ToString("G4", CultureInfo.InvariantCulture), cells[Column("training FLOP/s")]);
            Assert.Equal((flopsPerSecond / report.PeakFlopsPerSecond * 100).ToString("F2", CultureInfo.InvariantCulture) + " %", cells[Column("MFU")]);

            // The document-level score is `mambabyte eval --method document` on the same bytes.
            (int evalCode, string evalOutput, string evalError) = Run(["eval", "--checkpoint", checkpoint, "--data", "kjv", "--split", "test", "--max-bytes", "512",
                "--context", $"{Context}", "--batch-size", $"{Batch}", "--device", "cpu", "--method", "document", "--contexts", "128,512", "--json"]);
            JsonNode? eval = r.Architecture == "megabyte" ? null : JsonNode.Parse(evalOutput);
            if (r.Architecture == "megabyte")
            {
                // The eval sweep asks MegaByte for 128-byte windows: it refuses, as the report's n/a says.
                Assert.Equal(1, evalCode);
                Assert.Contains("exceeds max_context", evalError);
                (evalCode, evalOutput, evalError) = Run(["eval", "--checkpoint", checkpoint, "--data", "kjv", "--split", "test", "--max-bytes", "512",
                    "--context", $"{Context}", "--batch-size", $"{Batch}", "--device", "cpu", "--method", "document", "--json"]);
                eval = JsonNode.Parse(evalOutput);
            }
            Assert.True(evalCode == 0, evalOutput + evalError);
            JsonNode document = eval!["results"]!.AsArray().Single()!;
            Assert.Equal(document["bits_per_byte"]!.GetValue<double>(), r.DocumentBitsPerByte!.Value, 12);
            Assert.Equal(512, r.DocumentBytesScored);   // every byte, the first of each document included
            Assert.Equal(F4(r.DocumentBitsPerByte.Value), cells[Column("test bits/byte (document)")]);

            // Bits-per-byte against context: 1× is the windowed test score; longer windows as `eval --contexts` (batch 1) gives them.
            Assert.Equal([32, 128, 512], r.ContextSweep.Select(p => p.Context));
            Assert.Equal(r.TestBitsPerByte, r.ContextSweep[0].BitsPerByte);
            string[] contextCells = Row(contextSection, $"| {r.Architecture} | {F4(r.TestBitsPerByte)} | ");
            if (r.Architecture == "megabyte")
            {
                int maxContext = JsonNode.Parse(File.ReadAllText(Path.Combine(run, ComparisonRunner.ModelConfigFile)))!["max_context"]!.GetValue<int>();
                Assert.InRange(maxContext, Context, 127);
                foreach (ContextPoint p in r.ContextSweep.Skip(1))
                {
                    Assert.Null(p.BitsPerByte);
                    Assert.Equal($"megabyte's positions end at max_context {maxContext} bytes (sized to reach the training context, the farthest generation position and the sample)", p.Unavailable);
                }
                Assert.Equal(["n/a [1]", "n/a [1]"], contextCells[2..4]);
                Assert.Contains($"\n[1] megabyte: {r.ContextSweep[1].Unavailable}. ", contextSection);
            }
            else
            {
                JsonArray sweep = eval!["context_sweep"]!.AsArray();
                Assert.Equal([128, 512], sweep.Select(x => x!["context"]!.GetValue<int>()));
                for (int k = 0; k < 2; k++)
                {
                    Assert.Null(r.ContextSweep[k + 1].Unavailable);
                    Assert.Equal(sweep[k]!["bits_per_byte"]!.GetValue<double>(), r.ContextSweep[k + 1].BitsPerByte!.Value, 12);
                    Assert.Equal(F4(r.ContextSweep[k + 1].BitsPerByte!.Value), contextCells[k + 2]);
                }
            }

            // The sample is what `mambabyte generate` prints for the same checkpoint, prompt, settings and seed.
            (int genCode, string generated, string genError) = Run(["generate", "--checkpoint", checkpoint, "--prompt", Prompt, "--max-bytes", $"{SampleBytes}",
                "--temperature", "0.8", "--top-k", "40", "--seed", "1", "--device", "cpu"]);
            Assert.True(genCode == 0, genError);
            Assert.Equal(generated, Prompt + r.Sample + "\n");
            Assert.Contains($"**{r.Architecture}**\n\n", markdown);
            Assert.Contains(Prompt + r.Sample, markdown);
        }
        CompareCommandTests.AssertPng(Path.Combine(outDirectory, ComparisonPlots.ContextChart), 900, 560);
        Assert.Contains($"![bpb-vs-context]({ComparisonPlots.ContextChart})", markdown);

        // The same command again reuses the runs and draws the same samples; another sample seed draws others.
        (code, output, error) = Run(Args(outDirectory));
        Assert.True(code == 0, output + error);
        ComparisonReport again = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        Assert.Equal(report.Architectures.Select(r => r.Sample), again.Architectures.Select(r => r.Sample));
        (code, output, error) = Run(Args(outDirectory, sampleSeed: 2));
        Assert.True(code == 0, output + error);
        ComparisonReport reseeded = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        Assert.Equal(3, output.Split('\n').Count(l => l.Contains(": already trained (step ", StringComparison.Ordinal)));
        Assert.NotEqual(report.Architectures.Select(r => r.Sample), reseeded.Architectures.Select(r => r.Sample));
        Assert.Equal(report.Architectures.Select(r => r.TestBitsPerByte), reseeded.Architectures.Select(r => r.TestBitsPerByte));
    }

    [Fact]
    public void Contexts_are_multiples_of_the_training_context_or_lengths_in_bytes()
    {
        Assert.Equal([32, 128, 512], EvaluationContexts.Parse(EvaluationContexts.Default, 32));
        Assert.Equal([16, 100, 128], EvaluationContexts.Parse(" 4x, 100 ,0.5x", 32));
        Assert.Equal([1024], EvaluationContexts.Parse("1x,1024,1X", 1024));
        Assert.Equal("4×", EvaluationContexts.Multiple(4096, 1024));
        Assert.Equal("1.5×", EvaluationContexts.Multiple(48, 32));
        foreach (string bad in new[] { "", "4y", "0x", "-3", "x", "0", "1e9" })
        {
            var e = Assert.Throws<ArgumentException>(() => EvaluationContexts.Parse(bad, 32));
            Assert.StartsWith($"--contexts {bad}: ", e.Message);
        }
    }

    [Fact]
    public void Bad_context_or_sample_options_are_refused_with_the_option_named()
    {
        using var temp = new TempDir();
        foreach ((string option, string value, string message) in new[]
                 {
                     ("--contexts", "4y", "--contexts 4y: '4y' is neither"), ("--sample-top-k", "300", "--sample-top-k 300: expected"),
                     ("--sample-temperature", "-1", "--sample-temperature -1: expected"), ("--sample-bytes", "-5", "--sample-bytes -5: expected"),
                 })
        {
            (int code, string output, string error) = Run(["compare", "--data", "kjv", "--budget-flops", "1e6", "--out", temp.File("x"), option, value]);
            Assert.Equal(1, code);
            Assert.Contains(message, output + error);
            Assert.Single((output + error).Trim().Split('\n'));
        }
    }
}
