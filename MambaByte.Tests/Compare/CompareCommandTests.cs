using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Data;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Compare;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Compare;

/// <summary><c>mambabyte compare</c> end to end on the shipped kjv dataset, with tiny models and a tiny FLOPs budget.</summary>
public sealed class CompareCommandTests
{
    const double BudgetFlops = 1.5e8;
    const int Context = 32, Batch = 2;

    static string[] Args(string outDirectory) =>
    [
        "compare", "--data", "kjv", "--archs", "mamba,transformer,megabyte", "--match", "flops", "--size", "1",
        "--budget-flops", BudgetFlops.ToString("R", CultureInfo.InvariantCulture), "--context", $"{Context}", "--batch", $"{Batch}",
        "--seed", "5", "--device", "cpu", "--out", outDirectory, "--evaluations", "2", "--eval-bytes", "256",
        "--test-bytes", "512", "--gen-positions", "8,40", "--gen-bytes", "3",
    ];

    static (int Code, string Output) Run(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(args, output, error);
        return (code, output + error.ToString());
    }

    [Fact]
    public void Compare_report_equals_each_runs_metrics_and_a_rerun_skips_finished_architectures()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string outDirectory = temp.File("cmp");

        (int code, string output) = Run(Args(outDirectory));
        Assert.True(code == 0, output);
        ComparisonReport report = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        Assert.Equal(["mamba", "transformer", "megabyte"], report.Architectures.Select(a => a.Architecture));
        Assert.StartsWith("mambabyte compare --data kjv", report.Command);
        Assert.Equal(MambaByte.Core.Native.TorchRuntime.TorchSharpVersion, report.Versions.TorchSharp);
        Assert.Equal(MambaByte.Core.Native.TorchRuntime.LibTorchVersion, report.Versions.LibTorch);
        Assert.Equal(Environment.ProcessorCount, report.Versions.Cores);

        double mambaFlops = report.Architectures[0].TrainingFlopsPerByte;
        var metricsBefore = new Dictionary<string, byte[]>();
        foreach (ArchitectureResult r in report.Architectures)
        {
            string run = ComparisonRunner.RunDirectory(outDirectory, r.Architecture);
            Assert.Equal($"runs/{r.Architecture}", r.RunDirectory);   // relative to the report
            Assert.Equal(run, Path.GetFullPath(Path.Combine(outDirectory, r.RunDirectory)));
            Assert.True(r.TrainedNow);

            // The model the run trained, rebuilt from its own config.json and counted from its tensors.
            using ByteLanguageModel model = ModelCheckpoint.Load(RunDirectory.Resolve(run), TorchSharp.torch.CPU);
            Assert.Equal(r.Architecture, model.Architecture);
            Assert.Equal(model.parameters().Sum(p => p.numel()), r.Parameters);
            Assert.Equal(model.TrainingFlopsPerByte(Context), r.TrainingFlopsPerByte);
            Assert.InRange(r.TrainingFlopsPerByte / mambaFlops, 0.9, 1.1);

            // Steps the budget buys, computed here: floor(F / (FLOPs/byte × bytes/step)).
            long steps = (long)Math.Floor(BudgetFlops / (r.TrainingFlopsPerByte * Context * Batch));
            Assert.True(steps >= 2, $"{r.Architecture}: {steps} steps");

            // Every training number in the report is the run's own metrics.csv.
            string metricsPath = Path.Combine(run, "metrics.csv");
            metricsBefore[r.Architecture] = File.ReadAllBytes(metricsPath);
            var rows = MetricsLog.Read(metricsPath);
            var train = rows.Where(x => x.Kind == "train").ToList();
            var eval = rows.Where(x => x.Kind == "eval").ToList();
            Assert.Equal(steps, r.Steps);
            Assert.Equal(steps, train[^1].Step);
            Assert.Equal(steps * Context * Batch, r.BytesTrained);
            Assert.Equal(train[^1].Bytes, r.BytesTrained);
            Assert.Equal(rows[^1].ElapsedSeconds, r.TrainingSeconds);
            Assert.Equal(train[^1].BitsPerByte, r.FinalTrainBitsPerByte);
            Assert.Equal(eval[^1].BitsPerByte, r.FinalValidationBitsPerByte);
            Assert.Equal(r.BytesTrained * r.TrainingFlopsPerByte, r.TrainingFlops);
            Assert.Equal(train.Select(x => x.BitsPerByte), r.TrainCurve.Select(p => p.BitsPerByte));
            Assert.Equal(train.Select(x => x.Bytes * r.TrainingFlopsPerByte), r.TrainCurve.Select(p => p.Flops));
            Assert.Equal(eval.Select(x => x.BitsPerByte), r.ValidationCurve.Select(p => p.BitsPerByte));
            Assert.Equal(eval.Select(x => x.ElapsedSeconds), r.ValidationCurve.Select(p => p.ElapsedSeconds));

            // The test score is what `mambabyte eval` gives on the same bytes, windows and batches.
            (int evalCode, string evalOutput) = Run(["eval", "--checkpoint", RunDirectory.Resolve(run), "--data", "kjv", "--split", "test",
                "--max-bytes", "512", "--context", $"{Context}", "--batch-size", $"{Batch}", "--device", "cpu", "--json"]);
            Assert.True(evalCode == 0, evalOutput);
            JsonNode windowed = JsonNode.Parse(evalOutput)!["results"]!.AsArray().First(x => x!["method"]!.GetValue<string>() == "windowed")!;
            Assert.Equal(windowed["bits_per_byte"]!.GetValue<double>(), r.TestBitsPerByte, 12);
            Assert.Equal(511, r.TestBytesScored);

            Assert.Equal([8L, 40L], r.Generation.Select(g => g.Position));
            Assert.All(r.Generation, g => Assert.True(g.Bytes == 3 && g.MedianStepSeconds > 0 && g.Seconds >= g.MedianStepSeconds, $"{g}"));
            Assert.All(r.Generation, g => Assert.Equal(model.GenerationFlopsPerByte(g.Position), g.GenerationFlopsPerByte));
        }

        foreach (string chart in new[] { ComparisonPlots.FlopsChart, ComparisonPlots.TimeChart, ComparisonPlots.GenerationChart })
            AssertPng(Path.Combine(outDirectory, chart), 900, 560);
        string markdown = File.ReadAllText(Path.Combine(outDirectory, ComparisonReportWriter.MarkdownFile));
        Assert.Contains(report.Command, markdown);
        foreach (ArchitectureResult r in report.Architectures)
            Assert.Contains($"| {r.Architecture} | {r.TestBitsPerByte.ToString("F4", CultureInfo.InvariantCulture)} | {r.DocumentBitsPerByte!.Value.ToString("F4", CultureInfo.InvariantCulture)} | {r.FinalTrainBitsPerByte.ToString("F4", CultureInfo.InvariantCulture)} |", markdown);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(outDirectory), p => p.Contains(".tmp-", StringComparison.Ordinal));

        // Again: every architecture has spent its budget, so nothing trains and the metrics stay byte for byte.
        (code, output) = Run(Args(outDirectory));
        Assert.True(code == 0, output);
        Assert.Equal(3, output.Split('\n').Count(l => l.Contains(": already trained (step ", StringComparison.Ordinal)));
        ComparisonReport again = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        foreach (ArchitectureResult r in again.Architectures)
        {
            Assert.False(r.TrainedNow);
            Assert.Equal(metricsBefore[r.Architecture], File.ReadAllBytes(Path.Combine(outDirectory, r.RunDirectory, "metrics.csv")));
            ArchitectureResult first = report.Architectures.Single(a => a.Architecture == r.Architecture);
            Assert.Equal(first.FinalValidationBitsPerByte, r.FinalValidationBitsPerByte);
            Assert.Equal(first.TestBitsPerByte, r.TestBitsPerByte);
        }
    }

    [Fact]
    public void An_interrupted_comparison_resumes_to_the_uninterrupted_losses()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        ComparisonOptions Options(string outDirectory) => new()
        {
            Data = "kjv", Architectures = ["mamba", "transformer"], Match = "flops", Size = "1", BudgetFlops = 1e8,
            Context = Context, BatchSize = Batch, Seed = 9, Device = "cpu", Out = outDirectory, Evaluations = 2, EvalBytes = 256,
            TestBytes = 256, GenerationPositions = [8], GenerationBytes = 2,
        };
        string straight = temp.File("straight"), split = temp.File("split");
        Assert.NotNull(new ComparisonRunner(Options(straight), TextWriter.Null).Run("straight"));

        // Cancelled before its first step: Mamba saves a step-0 checkpoint, the Transformer never starts, no report.
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            Assert.Null(new ComparisonRunner(Options(split), TextWriter.Null).Run("split", cancelled.Token));
        }
        Assert.False(Directory.Exists(Path.Combine(ComparisonRunner.RunDirectory(split, "transformer"), "checkpoints")));
        Assert.False(File.Exists(Path.Combine(split, ComparisonReportWriter.JsonFile)));
        var output = new StringWriter();
        ComparisonReport? resumed = new ComparisonRunner(Options(split), output).Run("split");
        Assert.NotNull(resumed);
        Assert.Contains("mamba: resuming", output.ToString());

        foreach (string arch in new[] { "mamba", "transformer" })
        {
            List<MetricsRow> expected = MetricsLog.Read(Path.Combine(ComparisonRunner.RunDirectory(straight, arch), "metrics.csv"));
            List<MetricsRow> actual = MetricsLog.Read(Path.Combine(ComparisonRunner.RunDirectory(split, arch), "metrics.csv"));
            Assert.Equal(expected.Select(r => (r.Kind, r.Step, r.Bytes, r.Loss, r.BitsPerByte)), actual.Select(r => (r.Kind, r.Step, r.Bytes, r.Loss, r.BitsPerByte)));
        }
    }

    [Fact]
    public void A_minutes_budget_trains_until_the_time_is_spent_and_a_rerun_skips_the_finished_run()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string outDirectory = temp.File("minutes");
        // The shipped dataset by its absolute folder, and an absolute --out: neither may reach the report.
        string dataset = DatasetResolver.FindDataset("kjv")!;
        Assert.True(Path.IsPathRooted(dataset) && Path.IsPathRooted(outDirectory));
        string[] args =
        [
            "compare", "--data", dataset, "--archs", "mamba", "--size", "1", "--budget-minutes", "0.005", "--context", $"{Context}",
            "--batch", $"{Batch}", "--device", "cpu", "--out", outDirectory, "--eval-bytes", "256", "--test-bytes", "256",
            "--gen-positions", "8", "--gen-bytes", "2",
        ];
        (int code, string output) = Run(args);
        Assert.True(code == 0, output);
        string run = ComparisonRunner.RunDirectory(outDirectory, "mamba");
        TrainerState state = RunDirectory.ReadState(RunDirectory.Resolve(run));
        Assert.True(state.ElapsedSeconds >= 0.3, $"{state.ElapsedSeconds} s");
        ComparisonReport report = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        Assert.Equal(state.Step, report.Architectures[0].Steps);
        Assert.Equal(0.005, report.BudgetMinutes);
        byte[] metrics = File.ReadAllBytes(Path.Combine(run, "metrics.csv"));
        AssertNoAbsolutePaths(outDirectory, dataset);

        // The recorded command, run from the report's directory, names the same data and output folder.
        Assert.EndsWith($" --data {Path.GetRelativePath(outDirectory, dataset)} --archs mamba --size 1 --budget-minutes 0.005 --context {Context} --batch {Batch} --device cpu --out . --eval-bytes 256 --test-bytes 256 --gen-positions 8 --gen-bytes 2", report.Command);
        Assert.Equal(Path.GetFullPath(dataset), Path.GetFullPath(Path.Combine(outDirectory, report.Data)));
        Assert.Equal("runs/mamba", report.Architectures[0].RunDirectory);

        (code, output) = Run(args);
        Assert.True(code == 0, output);
        Assert.Contains("mamba: already trained (", output);
        Assert.Equal(metrics, File.ReadAllBytes(Path.Combine(run, "metrics.csv")));
    }

    /// <summary>
    /// report.md and report.json name no absolute path: not the report's folder, nor any '/'-rooted path at all. The
    /// models' samples are left out of the check: they are generated text, which may hold a '/' anywhere.
    /// </summary>
    static void AssertNoAbsolutePaths(string outDirectory, string dataset)
    {
        ComparisonReport report = ComparisonReportWriter.Read(Path.Combine(outDirectory, ComparisonReportWriter.JsonFile));
        foreach (string file in new[] { ComparisonReportWriter.MarkdownFile, ComparisonReportWriter.JsonFile })
        {
            string text = File.ReadAllText(Path.Combine(outDirectory, file));
            if (file == ComparisonReportWriter.JsonFile)
            {
                JsonNode json = JsonNode.Parse(text)!;
                foreach (JsonNode? architecture in json["architectures"]!.AsArray()) architecture!["sample"] = null;
                text = json.ToJsonString(ComparisonReportWriter.Json);
            }
            else
                foreach (ArchitectureResult r in report.Architectures.Where(r => r.Sample is not null))
                    text = text.Replace(report.Sampling!.Prompt + r.Sample, "");
            Assert.True(text.Length > 500, $"{file}: {text.Length} characters");
            Assert.DoesNotContain(Path.GetFullPath(outDirectory), text);
            Assert.Contains(Path.GetRelativePath(outDirectory, dataset), text);   // the dataset is named, relative to the report
            Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/'), text);
            // A rooted path is a '/' after a start of line, space, quote, backtick, parenthesis or '=' (System.Text.Json writes '/' unescaped).
            Match rooted = Regex.Match(text, @"(^|[\s""'`(=])/[^\s/]", RegexOptions.Multiline);
            Assert.False(rooted.Success, $"{file}: absolute path at {rooted.Index}: {text.Substring(Math.Max(0, rooted.Index - 40), Math.Min(80, text.Length - Math.Max(0, rooted.Index - 40)))}");
        }
    }

    [Fact]
    public void Compare_refuses_two_budgets_and_a_run_directory_of_another_model()
    {
        using var temp = new TempDir();
        (int code, string output) = Run(["compare", "--data", "kjv", "--budget-flops", "1e9", "--budget-minutes", "1", "--out", temp.File("x")]);
        Assert.Equal(1, code);
        Assert.Contains("give exactly one budget", output);

        // A directory trained at another size must not be mixed into this comparison.
        string run = ComparisonRunner.RunDirectory(temp.File("y"), "mamba");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, ComparisonRunner.ModelConfigFile), "{}");
        (code, output) = Run(["compare", "--data", "kjv", "--archs", "mamba", "--size", "1", "--budget-flops", "1e6", "--out", temp.File("y"), "--device", "cpu"]);
        Assert.Equal(1, code);
        Assert.Contains("trained a different mamba model", output);
    }

    /// <summary>PNG signature, then the IHDR chunk first with the expected width and height.</summary>
    internal static void AssertPng(string path, int width, int height)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path}: {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)));
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(bytes, bytes.Length - 8, 4));
    }
}
