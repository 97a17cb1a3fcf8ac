using MambaByte.Core.Architectures;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Data;
using MambaByte.Train.Evaluation;
using MambaByte.Train.Training;
using MambaByte.Core.Files;
using MambaByte.Train.Runs;

namespace MambaByte.Train.Compare;

/// <summary>
/// Runs a comparison: match the architectures, train each as an ordinary checkpointed run in
/// <c>OUT/runs/ARCH</c> (the same <see cref="Trainer"/>, run-directory layout and metrics.csv as
/// <c>mambabyte train</c>), score each final checkpoint on the same test bytes, time generation, write the report.
/// A run whose checkpoint already spent the budget is not trained again; an interrupted one resumes exactly.
/// </summary>
public sealed class ComparisonRunner(ComparisonOptions options, TextWriter output)
{
    /// <summary>The matched model's config.json in each run directory (the run trains with <c>--model-config</c> on it).</summary>
    public const string ModelConfigFile = "model-config.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Test hook: called as each phase of one architecture starts ("train mamba", "test mamba", "generation mamba").</summary>
    public Action<string>? PhaseStarted { get; init; }

    /// <summary>The run directory of one architecture.</summary>
    public static string RunDirectory(string outDirectory, string architecture) => Path.Combine(Path.GetFullPath(outDirectory), "runs", architecture);

    /// <summary>The ranks that train each architecture together under mpiexec (rank 0 alone scores and reports).</summary>
    public DataParallel Parallel { get; init; } = DataParallel.Single;

    /// <summary>The comparison's report, or null when training was interrupted (run the same command again to resume), and on MPI ranks other than 0.</summary>
    public ComparisonReport? Run(string commandLine, CancellationToken cancellationToken = default)
    {
        options.Validate();
        TorchRuntime.EnsureLoaded();
        var clock = Stopwatch.StartNew();
        // MFU divides by one peak, measured before any training (rank 0 alone reports).
        double peakFlops = Parallel.IsRoot ? PeakFlops.Measure(DeviceOption.Parse(options.Device)) : 0;
        long farthest = Math.Max(options.GenerationPositions.Max() + options.GenerationBytes + 1, options.Sampling.PromptBytes.Length + options.Sampling.Bytes);
        IReadOnlyList<MatchedModel> matched = ArchitectureMatcher.Match(options.Architectures, options.Size, options.Match, options.Context, farthest);
        MatchedModel reference = ArchitectureMatcher.Reference(options.Size, options.Context);
        output.WriteLine($"mambabyte compare: matching {ArchitectureMatcher.Quantity(options.Match)} to Mamba at size {options.Size} (context {options.Context})");
        foreach (MatchedModel m in matched)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {m.Architecture,-12} {m.Parameters,12:N0} params  {m.TrainingFlopsPerByte,12:G4} FLOPs/byte  ×{m.RatioTo(reference, options.Match):F3}  {m.Shape}"));

        var trainedNow = new Dictionary<string, bool>();
        foreach (MatchedModel m in matched)
        {
            bool? trained = Train(m, cancellationToken);
            if (trained is null) return null;
            trainedNow[m.Architecture] = trained.Value;
        }
        if (!Parallel.IsRoot) return null;   // scoring, generation speed and the report are rank 0's

        using ByteStore store = DatasetResolver.Resolve(options.Data, string.IsNullOrEmpty(options.CacheDir) ? null : options.CacheDir);
        if (!store.SplitNames.Contains(options.TestSplit))
            throw new ArgumentException($"--data {options.Data}: no split '{options.TestSplit}' to score (has {string.Join(", ", store.SplitNames)}); pick one with --test-split");
        EvalData testData = EvalData.FromStore(store, options.Data, options.TestSplit, options.TestBytes);
        byte[] testBytes = testData.Bytes;
        List<ArchitectureResult> results;
        try
        {
            results = matched.Select(m => Measure(m, testData, trainedNow[m.Architecture], peakFlops, cancellationToken)).ToList();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Every run's checkpoint is already saved: the same command skips training and measures again.
            output.WriteLine("compare: stopped while measuring; every run is checkpointed");
            return null;
        }

        var report = new ComparisonReport(
            commandLine, ComparisonVersions.Collect(options.Device), ReportPaths.Data(options.Out, options.Data), options.TrainSplit, options.EvalSplit, options.TestSplit,
            testBytes.Length, options.Match, options.Size, options.BudgetFlops, options.BudgetMinutes, options.Context, options.BatchSize,
            options.Seed, options.Lr, clock.Elapsed.TotalSeconds, results) { PeakFlopsPerSecond = peakFlops, Sampling = options.Sampling };
        ComparisonReportWriter.Write(report, options.Out);
        return report;
    }

    /// <summary>The <c>train</c> options of one architecture's run (before the step or time limit is set).</summary>
    public TrainOptions TrainOptionsFor(MatchedModel model, string configPath) => new()
    {
        Arch = model.Architecture,
        ModelConfig = configPath,
        Data = options.Data,
        TrainSplit = options.TrainSplit,
        EvalSplit = options.EvalSplit,
        Out = RunDirectory(options.Out, model.Architecture),
        Device = options.Device,
        Context = options.Context,
        BatchSize = options.BatchSize,
        Lr = options.Lr,
        Seed = options.Seed,
        EvalBytes = options.EvalBytes,
        KeepLast = 1,
        CacheDir = options.CacheDir,
        Tensorboard = false,
    };

    /// <summary>Optimizer steps a FLOPs budget buys at a model's cost: ⌊F / (FLOPs/byte × bytes/step)⌋, at least 1.</summary>
    public static long StepsForBudget(double budgetFlops, double flopsPerByte, long bytesPerStep) =>
        Math.Max(1, (long)Math.Floor(budgetFlops / (flopsPerByte * bytesPerStep)));

    /// <summary>Trains one architecture to its budget; false when its checkpoint had already spent it; null when interrupted.</summary>
    bool? Train(MatchedModel model, CancellationToken cancellationToken)
    {
        string runDirectory = RunDirectory(options.Out, model.Architecture);
        string configPath = Parallel.RootFirst(() =>
        {
            Directory.CreateDirectory(runDirectory);
            return WriteModelConfig(model, runDirectory);
        });
        TrainOptions train = TrainOptionsFor(model, configPath) with { Ranks = Parallel.Size };   // budgets count the global batch

        string? checkpoint = Directory.Exists(Path.Combine(runDirectory, "checkpoints")) ? TryResolve(runDirectory) : null;
        TrainerState? state = checkpoint is null ? null : Runs.RunDirectory.ReadState(checkpoint);
        if (options.BudgetFlops > 0)
        {
            long steps = StepsForBudget(options.BudgetFlops, model.TrainingFlopsPerByte, train.BytesPerStep);
            long every = Math.Max(1, steps / options.Evaluations);
            train = train with
            {
                MaxSteps = steps, WarmupSteps = (int)Math.Clamp(steps / 10, 1, 20), LogEvery = (int)Math.Max(1, steps / 100),
                EvalEvery = (int)every, CheckpointEvery = (int)every,
            };
            if (state is not null && state.Step >= steps) return Skip(model, checkpoint!, $"step {state.Step} of {steps}");
        }
        else
        {
            // The trainer's time limit counts the run's whole training time, so a resumed run gets what is left of the budget.
            double spent = state?.ElapsedSeconds ?? 0;
            if (state is not null && spent >= options.BudgetMinutes * 60) return Skip(model, checkpoint!, $"{spent:F0} s of {options.BudgetMinutes * 60:F0} s");
            train = train with { MaxSteps = 0, MaxMinutes = options.BudgetMinutes, WarmupSteps = 20, LogEvery = 5, EvalEvery = 0, CheckpointEvery = 0 };
        }
        train.Validate();

        output.WriteLine(checkpoint is null
            ? $"{model.Architecture}: training in {runDirectory}"
            : $"{model.Architecture}: resuming {checkpoint}");
        PhaseStarted?.Invoke($"train {model.Architecture}");
        using var data = Parallel.RootFirst(() => new TrainingData(train));
        TrainingOutcome outcome = new Trainer(train, data.Services(Parallel), new PlainProgress(output)).Run(checkpoint, cancellationToken);
        output.WriteLine($"{model.Architecture}: {outcome.Message}");
        return outcome.Reason switch
        {
            TrainingStopReason.Completed => true,
            TrainingStopReason.Interrupted => null,
            _ => throw new UserInputException($"{model.Architecture}: {outcome.Message}"),
        };
    }

    bool Skip(MatchedModel model, string checkpoint, string progress)
    {
        output.WriteLine($"{model.Architecture}: already trained ({progress}): {checkpoint}");
        return false;
    }

    static string? TryResolve(string runDirectory)
    {
        try
        {
            return Runs.RunDirectory.Resolve(runDirectory);
        }
        catch (InvalidDataException)
        {
            return null;   // a run that crashed before its first checkpoint starts over
        }
    }

    /// <summary>Writes the matched config (atomically); a run directory holding another model's config is refused.</summary>
    static string WriteModelConfig(MatchedModel model, string runDirectory)
    {
        string path = Path.Combine(runDirectory, ModelConfigFile);
        string json = model.Config.ToJsonString(Indented);
        if (File.Exists(path))
        {
            if (File.ReadAllText(path) != json)
                throw new ArgumentException($"{path}: this run directory trained a different {model.Architecture} model (another --size, --match, --context or generation range); use a new --out");
            return path;
        }
        AtomicFile.WriteAllText(path, json, overwrite: false);
        return path;
    }

    ArchitectureResult Measure(MatchedModel matched, EvalData testData, bool trainedNow, double peakFlops, CancellationToken cancellationToken)
    {
        byte[] testBytes = testData.Bytes;
        string runDirectory = RunDirectory(options.Out, matched.Architecture);
        string checkpoint = Runs.RunDirectory.Resolve(runDirectory);
        using ByteLanguageModel model = ModelCheckpoint.Load(checkpoint, DeviceOption.Parse(options.Device));
        PhaseStarted?.Invoke($"test {matched.Architecture}");
        BitsPerByteResult test = BitsPerByteEvaluator.Windowed(model, [testBytes], options.Context, options.Context, options.BatchSize, cancellationToken);
        PhaseStarted?.Invoke($"document {matched.Architecture}");
        BitsPerByteResult document = BitsPerByteEvaluator.Document(model, testData.Documents, options.Context, testData.StartByte, carryState: ArchitectureRegistry.Get(model.Architecture, "--archs").CanCarryState, options.BatchSize, cancellationToken);
        PhaseStarted?.Invoke($"contexts {matched.Architecture}");
        IReadOnlyList<ContextPoint> contexts = ContextSweep.Measure(model, testBytes, EvaluationContexts.Parse(options.Contexts, options.Context), options.Context, options.BatchSize, cancellationToken);
        PhaseStarted?.Invoke($"sample {matched.Architecture}");
        string? sample = options.Sampling.Draw(model, cancellationToken);
        PhaseStarted?.Invoke($"generation {matched.Architecture}");
        IReadOnlyList<GenerationSpeedPoint> generation = GenerationSpeed.Measure(model, testBytes, options.GenerationPositions, options.GenerationBytes, cancellationToken);
        double flopsPerByte = model.TrainingFlopsPerByte(options.Context);

        List<MetricsRow> rows = MetricsLog.Read(Path.Combine(runDirectory, "metrics.csv"));
        CurvePoint Point(MetricsRow r) => new(r.Step, r.Bytes, r.Bytes * flopsPerByte, r.ElapsedSeconds, r.BitsPerByte);
        var train = rows.Where(r => r.Kind == "train").Select(Point).ToList();
        var validation = rows.Where(r => r.Kind == "eval").Select(Point).ToList();
        if (train.Count == 0) throw new InvalidDataException($"{runDirectory}/metrics.csv: no training rows");
        MetricsRow last = rows.MaxBy(r => (r.Step, r.ElapsedSeconds))!;

        double flopsPerSecond = last.ElapsedSeconds > 0 ? last.Bytes * flopsPerByte / last.ElapsedSeconds : 0;
        string speeds = string.Join(", ", generation.Select(g => FormattableString.Invariant($"{g.BytesPerSecond:F0} B/s at {g.Position}")));
        output.WriteLine(FormattableString.Invariant($"{matched.Architecture}: test {test.BitsPerByte:F4} bits/byte over {test.BytesScored:N0} bytes; generation {speeds}"));
        output.WriteLine(FormattableString.Invariant($"{matched.Architecture}: document-level test {document.BitsPerByte:F4} bits/byte over {document.BytesScored:N0} bytes; by context {ComparisonReportSections.ContextSummary(contexts)}"));
        return new ArchitectureResult(
            matched.Architecture, matched.Shape, matched.Config, model.ParameterCount, flopsPerByte, ReportPaths.Relative(options.Out, runDirectory), trainedNow,
            last.Step, last.Bytes, last.Bytes * flopsPerByte, last.ElapsedSeconds, train[^1].BitsPerByte,
            validation.Count > 0 ? validation[^1].BitsPerByte : null, test.BitsPerByte, test.BytesScored, generation, train, validation)
        {
            DocumentBitsPerByte = document.BitsPerByte, DocumentBytesScored = document.BytesScored,
            TrainingFlopsPerSecond = flopsPerSecond, Mfu = peakFlops > 0 ? flopsPerSecond / peakFlops : null,
            ContextSweep = contexts, Sample = sample,
        };
    }
}
