using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MambaByte.Core.Architectures;
using MambaByte.Core.Native;
using MambaByte.Train.Compare;
using MambaByte.Train.Training;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte compare</c>: every architecture matched to Mamba at one size, trained under one budget on the same
/// bytes, scored on the same test bytes, generation timed; one report (Markdown, JSON, PNG charts) in <c>--out</c>.
/// Run the same command again to resume an interrupted comparison; finished architectures are not retrained.
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var defaults = new ComparisonOptions { Data = "kjv" };
        var data = new Option<string>("--data") { Description = "prepared store directory or shipped dataset name/path (e.g. kjv)", Required = true };
        var archs = new Option<string>("--archs") { Description = "comma-separated architectures", DefaultValueFactory = _ => string.Join(",", defaults.Architectures) };
        var match = new Option<string>("--match") { Description = "what to equalise: params (parameter count) or flops (training FLOPs per byte at --context)", DefaultValueFactory = _ => defaults.Match };
        var size = new Option<string>("--size") { Description = "Mamba's size, which the others match: a preset (tiny, small, medium, ...) or an integer S (d_model 64·S, n_layer 2·S)", DefaultValueFactory = _ => defaults.Size };
        var budgetFlops = new Option<string?>("--budget-flops") { Description = "training FLOPs per architecture, e.g. 3e13 (steps = F / (FLOPs/byte × bytes/step))" };
        var budgetMinutes = new Option<double?>("--budget-minutes") { Description = "minutes of training wall time per architecture" };
        var outDir = new Option<string>("--out") { Description = "comparison directory: runs/ARCH (ordinary train runs) and the report", DefaultValueFactory = _ => defaults.Out };
        var context = new Option<int>("--context") { Description = "bytes per training window (also the evaluation window)", DefaultValueFactory = _ => defaults.Context };
        var batch = CommonOptions.BatchSize("windows per step (--batch, the older spelling, is still accepted)", defaults.BatchSize, "--batch");
        var seed = new Option<long>("--seed") { Description = "seed of every model's init and of the (shared) batch order", DefaultValueFactory = _ => defaults.Seed };
        var device = CommonOptions.Device(defaults.Device);
        var lr = new Option<double>("--lr") { Description = "peak learning rate (all architectures)", DefaultValueFactory = _ => defaults.Lr };
        var testSplit = new Option<string>("--test-split") { Description = "split scored at the end", DefaultValueFactory = _ => defaults.TestSplit };
        var testBytes = new Option<long>("--test-bytes") { Description = "score only the first N test bytes (0 = all)", DefaultValueFactory = _ => defaults.TestBytes };
        var evalBytes = new Option<long>("--eval-bytes") { Description = "validation bytes per evaluation during training (0 = all)", DefaultValueFactory = _ => defaults.EvalBytes };
        var evaluations = new Option<int>("--evaluations") { Description = "validation points per run (FLOPs budget)", DefaultValueFactory = _ => defaults.Evaluations };
        var positions = new Option<string>("--gen-positions") { Description = "context positions at which to time generation", DefaultValueFactory = _ => string.Join(",", defaults.GenerationPositions) };
        var genBytes = new Option<int>("--gen-bytes") { Description = "timed generation steps per position", DefaultValueFactory = _ => defaults.GenerationBytes };
        var cacheDir = CommonOptions.CacheDir();
        var contexts = new Option<string>("--contexts") { Description = "evaluation windows of the bits-per-byte-against-context table: multiples of --context (4x) or lengths in bytes (4096), comma-separated", DefaultValueFactory = _ => defaults.Contexts };
        var samplePrompt = new Option<string>("--sample-prompt") { Description = "prompt every model continues for its sample in the report", DefaultValueFactory = _ => defaults.Sampling.Prompt };
        var sampleBytes = new Option<int>("--sample-bytes") { Description = "bytes of each model's sample (0 = no samples)", DefaultValueFactory = _ => defaults.Sampling.Bytes };
        var sampleTemperature = new Option<double>("--sample-temperature") { Description = "softmax temperature of the samples (0 = greedy)", DefaultValueFactory = _ => defaults.Sampling.Temperature };
        var sampleTopK = new Option<int>("--sample-top-k") { Description = "samples draw among the K most likely bytes (0 = off)", DefaultValueFactory = _ => defaults.Sampling.TopK };
        var sampleSeed = new Option<ulong>("--sample-seed") { Description = "sampling seed, the same for every model", DefaultValueFactory = _ => defaults.Sampling.Seed };
        var command = new Command("compare", $"Train the architectures of --archs ({ArchitectureRegistry.NamesText}) matched to {ArchitectureRegistry.Default.Name} in parameters or FLOPs under one budget, and report bits-per-byte and generation speed")
        {
            data, archs, match, size, budgetFlops, budgetMinutes, outDir, context, batch, seed, device, lr, testSplit, testBytes, evalBytes, evaluations, positions, genBytes, cacheDir,
            contexts, samplePrompt, sampleBytes, sampleTemperature, sampleTopK, sampleSeed,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            // Under mpiexec every architecture trains data-parallel; rank 0 alone prints, scores and writes the report.
            using DataParallel parallel = DataParallel.FromEnvironment();
            TextWriter output = parallel.IsRoot ? parse.InvocationConfiguration.Output : TextWriter.Null;
            TextWriter error = parse.InvocationConfiguration.Error;
            return Task.FromResult(parallel.RunOrAbort(() => Compare(parse, cancellationToken, parallel, output, error), error));
        });
        return command;

        int Compare(ParseResult parse, CancellationToken cancellationToken, DataParallel parallel, TextWriter output, TextWriter error)
        {
            var options = new ComparisonOptions
            {
                Data = parse.GetValue(data)!,
                Architectures = SplitList(parse.GetValue(archs)!),
                Match = parse.GetValue(match)!.Trim().ToLowerInvariant(),
                Size = parse.GetValue(size)!,
                BudgetFlops = parse.GetValue(budgetFlops) is { } f ? ParseNumber(f, "--budget-flops") : 0,
                BudgetMinutes = parse.GetValue(budgetMinutes) ?? 0,
                Out = parse.GetValue(outDir)!,
                Context = parse.GetValue(context),
                BatchSize = parse.GetValue(batch),
                Seed = parse.GetValue(seed),
                Device = parse.GetValue(device)!,
                Lr = parse.GetValue(lr),
                TestSplit = parse.GetValue(testSplit)!,
                TestBytes = parse.GetValue(testBytes),
                EvalBytes = parse.GetValue(evalBytes),
                Evaluations = parse.GetValue(evaluations),
                GenerationPositions = SplitList(parse.GetValue(positions)!).Select(p => (long)ParseNumber(p, "--gen-positions")).ToList(),
                GenerationBytes = parse.GetValue(genBytes),
                CacheDir = parse.GetValue(cacheDir) ?? "",
                Contexts = parse.GetValue(contexts)!,
                Sampling = new ComparisonSampling
                {
                    Prompt = parse.GetValue(samplePrompt)!, Bytes = parse.GetValue(sampleBytes), Temperature = parse.GetValue(sampleTemperature),
                    TopK = parse.GetValue(sampleTopK), Seed = parse.GetValue(sampleSeed),
                },
            };
            if (parallel.IsDistributed) output.WriteLine($"compare: {parallel.Describe()}; {parallel.ShareCores()}");
            // The report states the command as run from its own directory (no absolute paths: ReportPaths).
            IReadOnlyList<string> words = ReportPaths.CommandWords(parse.Tokens.Select(t => t.Value).ToList(), options.Out);
            string commandLine = "mambabyte " + string.Join(" ", words.Select(Quote));

            // SIGINT/SIGTERM: the running architecture saves a checkpoint at the next step; the same command resumes.
            using var stop = new StopSignals(cancellationToken, error);

            ComparisonReport? report = new ComparisonRunner(options, output) { Parallel = parallel }.Run(commandLine, stop.Token);
            if (report is null)
            {
                output.WriteLine("compare: interrupted; run the same command again to resume");
                return 0;
            }
            string directory = Path.GetFullPath(options.Out);
            output.WriteLine($"report   {Path.Combine(directory, ComparisonReportWriter.MarkdownFile)} (+ {ComparisonReportWriter.JsonFile}, {ComparisonPlots.FlopsChart}, {ComparisonPlots.TimeChart}, {ComparisonPlots.GenerationChart}, {ComparisonPlots.ContextChart})");
            return 0;
        }
    }

    static List<string> SplitList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToList();

    static double ParseNumber(string text, string option) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
            ? value
            : throw new ArgumentException($"{option} {text}: expected a number");

    static string Quote(string token) =>
        token.Length > 0 && token.All(c => char.IsLetterOrDigit(c) || "-_./=,:+".Contains(c)) ? token : "'" + token.Replace("'", "'\\''") + "'";
}
