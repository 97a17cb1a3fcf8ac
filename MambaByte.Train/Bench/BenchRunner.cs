using System.Globalization;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Ops;
using TorchSharp;
using static TorchSharp.torch;

using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// Runs every section of the bench in one process so that the ratios compare figures measured side by side:
/// matmul GFLOP/s (the machine's reference), the three selective scans, training steps and generation per architecture.
/// </summary>
public sealed class BenchRunner(BenchPlan plan, Device device, Action<string> progress)
{
    const long Seed = 1234;

    public BenchResults Run(CancellationToken cancellationToken = default)
    {
        BenchMachine machine = DescribeMachine();
        progress($"bench on {machine.CpuModel}, {machine.LogicalCores} cores, {machine.TorchThreads} torch threads, {machine.Device}, load {machine.LoadAverageAtStart:F2}{(plan.IsQuick ? " (quick)" : "")}");
        MatmulResult matmul = MeasureMatmul(cancellationToken);
        progress($"matmul {matmul.Size}: {matmul.Gflops.Median:F1} GFLOP/s [{matmul.Gflops.Min:F1}..{matmul.Gflops.Max:F1}]");
        var models = new List<ModelRow>();
        long mambaParameters = 0;
        foreach (string architecture in Architectures)
        {
            using ByteLanguageModel probe = Build(architecture);
            if (architecture == "mamba") mambaParameters = probe.ParameterCount;
            models.Add(new ModelRow(architecture, probe.ParameterCount, probe.ParameterCount / (double)mambaParameters, Shape(architecture)));
            progress($"{architecture}: {probe.ParameterCount:N0} parameters ({Shape(architecture)})");
        }

        var training = new List<TrainingRow>();
        foreach (int context in plan.TrainingContexts)
        {
            foreach (TrainingRow row in MeasureTraining(context, cancellationToken))
            {
                training.Add(row);
                progress($"train {row.Architecture} context {context}: {row.BytesPerSecond.Median:F0} bytes/s [{row.BytesPerSecond.Min:F0}..{row.BytesPerSecond.Max:F0}], " +
                         $"MFU {row.Mfu:P1} of {row.MatmulGflopsSameRounds:F1} GFLOP/s");
            }
        }

        var generation = MeasureGeneration(cancellationToken);
        foreach (GenerationRow row in generation)
            progress($"generate {row.Architecture} at {row.Position}: {row.MsPerByte.Median:F3} ms/byte [{row.MsPerByte.Min:F3}..{row.MsPerByte.Max:F3}], {row.BytesPerSecond:F0} bytes/s");

        List<DecodingRow> decoding = MeasureDecoding(cancellationToken);
        foreach (DecodingRow row in decoding)
            progress($"decode mamba {row.Shape} {row.Step} {row.Weights} batch {row.Batch}: {row.Ms.Median:F3} ms [{row.Ms.Min:F3}..{row.Ms.Max:F3}], {row.BytesPerSecond:F0} bytes/s");

        List<ScanRow> scans = MeasureScans(cancellationToken);
        IReadOnlyList<TargetCheck> targets = [.. BenchTargets.Check(plan, scans, training, generation), .. DecodingTargets.Check(plan, generation, decoding)];
        return new BenchResults(machine, matmul, scans, models, training, generation, targets, decoding);
    }

    BenchMachine DescribeMachine()
    {
        string cpu = "unknown";
        if (File.Exists("/proc/cpuinfo"))
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        double load = 0;
        if (File.Exists("/proc/loadavg"))
            load = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        return new BenchMachine(cpu, Environment.ProcessorCount, get_num_threads(), device.ToString(),
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), plan.IsQuick, load);
    }

    void Synchronize()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }

    // ---- matmul: the machine's own limit ----

    MatmulResult MeasureMatmul(CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        int n = plan.MatmulSize;
        using var gen = new Generator(Seed);
        Tensor a = randn([n, n], generator: gen).to(device), b = randn([n, n], generator: gen).to(device);
        Spread ms = Stopwatches.TimeMs(() => { using Tensor c = a.matmul(b); }, plan.MatmulWarmup, plan.MatmulRepeats, Synchronize, ct);
        double flops = 2.0 * n * n * n;
        return new MatmulResult(n, plan.MatmulRepeats, ms, ms.Inverted(t => flops / (t * 1e-3) / 1e9));
    }

    // ---- selective scans ----

    List<ScanRow> MeasureScans(CancellationToken ct)
    {
        var rows = new List<ScanRow>();
        foreach (int length in plan.ScanLengths)
        {
            ScanBenchmarkResult? reference = null;
            foreach (SelectiveScanKind kind in new[] { SelectiveScanKind.Reference, SelectiveScanKind.Parallel, SelectiveScanKind.FusedCpu })
            {
                if (plan.ScanRuns(kind.ToString(), length) is not var (warmup, repeats))
                {
                    progress($"scan {kind} l={length}: skipped (see BenchPlan.ScanRuns)");
                    continue;
                }
                ScanBenchmarkResult r = ScanBenchmark.Measure(kind, plan.ScanBatch, length, plan.ScanChannels, plan.ScanStates,
                    warmup: warmup, repeats: repeats, cancellationToken: ct);
                reference ??= r;
                var row = new ScanRow(kind.ToString(), plan.ScanBatch, length, plan.ScanChannels, plan.ScanStates, warmup, repeats,
                    new Spread(r.ForwardMedianMs, r.ForwardMinMs, r.ForwardMaxMs),
                    new Spread(r.ForwardBackwardMedianMs, r.ForwardBackwardMinMs, r.ForwardBackwardMaxMs),
                    reference.ForwardMedianMs / r.ForwardMedianMs, reference.ForwardBackwardMedianMs / r.ForwardBackwardMedianMs,
                    r.RetainedForBackwardBytes, r.PeakForwardBackwardBytes);
                rows.Add(row);
                progress($"scan {kind} l={length}: forward {row.ForwardMs.Median:F1} ms, forward+backward {row.ForwardBackwardMs.Median:F1} ms " +
                         $"({row.ForwardSpeedupVsReference:F1}x / {row.ForwardBackwardSpeedupVsReference:F1}x Reference), peak {row.PeakForwardBackwardBytes / 1048576.0:F1} MiB");
            }
        }
        return rows;
    }

    // ---- models ----

    ByteLanguageModel Build(string architecture)
    {
        ByteLanguageModel model = architecture switch
        {
            "mamba" => new MambaLMHeadModel(plan.Mamba, Seed),
            "transformer" => new ByteTransformer(plan.Transformer, Seed),
            "megabyte" => new MegaByteModel(plan.MegaByte, Seed),
            _ => throw new ArgumentException($"bench: unknown architecture '{architecture}'"),
        };
        model.to(device);
        return model;
    }

    string Shape(string architecture) => architecture switch
    {
        "mamba" => $"d_model {plan.Mamba.DModel}, {plan.Mamba.NLayer} layers, d_inner {plan.Mamba.DInner}, d_state {plan.Mamba.DState}",
        "transformer" => $"d_model {plan.Transformer.DModel}, {plan.Transformer.NLayer} layers, {plan.Transformer.NHead} heads",
        "megabyte" => $"patch {plan.MegaByte.PatchSize}, global {plan.MegaByte.DGlobal}x{plan.MegaByte.NGlobalLayer} layers, local {plan.MegaByte.DLocal}x{plan.MegaByte.NLocalLayer} layers",
        _ => architecture,
    };

    Tensor RandomBytes(long count, long seed)
    {
        using var generator = new Generator(unchecked((ulong)seed));
        return randint(0, ByteLanguageModel.ByteVocabulary, [1, count], dtype: int64, generator: generator).to(device);   // (1, count)
    }

    static readonly string[] Architectures = ["mamba", "transformer", "megabyte"];

    /// <summary>One timed matrix product at the plan's size, in FLOP/s: sampled in the same rounds as the steps it normalises.</summary>
    double MatmulFlopsPerSecond(Tensor a, Tensor b)
    {
        Spread ms = Stopwatches.TimeMs(() => { using Tensor c = a.matmul(b); }, 0, 1, Synchronize, CancellationToken.None);
        return 2.0 * a.shape[0] * a.shape[1] * b.shape[1] / (ms.Median * 1e-3);
    }

    /// <summary>
    /// Training steps of the three architectures at one context, interleaved round by round (mamba, transformer,
    /// megabyte, matmul; repeat), so that a change in the machine's load hits all of them alike. MFU divides by the
    /// median matmul FLOP/s sampled in the same rounds.
    /// </summary>
    List<TrainingRow> MeasureTraining(int context, CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        var models = Architectures.Select(Build).ToArray();
        var optimizers = models.Select(m => { m.train(); return optim.AdamW(m.parameters(), lr: 1e-4); }).ToArray();
        try
        {
            Tensor window = RandomBytes(context + 1, Seed + context);
            Tensor input = window.narrow(1, 0, context), target = window.narrow(1, 1, context);   // (1, context) each
            using var gen = new Generator(Seed);
            int n = plan.MatmulSize;
            Tensor a = randn([n, n], generator: gen).to(device), b = randn([n, n], generator: gen).to(device);

            Action Step(int i) => () =>
            {
                using var step = NewDisposeScope();
                optimizers[i].zero_grad();
                models[i].Loss(input, target).backward();
                optimizers[i].step();
            };

            for (int i = 0; i < models.Length; i++) Stopwatches.TimeMs(Step(i), plan.TrainingWarmup, 1, Synchronize, ct);
            var samples = models.Select(_ => new List<double>()).ToArray();
            var matmul = new List<double>();
            for (int round = 0; round < plan.TrainingRepeats; round++)
            {
                for (int i = 0; i < models.Length; i++) samples[i].Add(Stopwatches.TimeMs(Step(i), 0, 1, Synchronize, ct).Median);
                matmul.Add(MatmulFlopsPerSecond(a, b));
            }

            double matmulFlops = Spread.Of(matmul).Median;
            var rows = new List<TrainingRow>();
            for (int i = 0; i < models.Length; i++)
            {
                Spread ms = Spread.Of(samples[i]);
                Spread bytesPerSecond = ms.Inverted(t => context / (t * 1e-3));
                double flopsPerByte = models[i].TrainingFlopsPerByte(context);
                rows.Add(new TrainingRow(Architectures[i], context, plan.TrainingRepeats, ms, bytesPerSecond, flopsPerByte,
                    matmulFlops / 1e9, flopsPerByte * bytesPerSecond.Median / matmulFlops));
            }
            return rows;
        }
        finally
        {
            foreach (var o in optimizers) o.Dispose();
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>
    /// Generation of every architecture at every planned position: each (architecture, position) gets its own state
    /// (a prefill to the position, then warm-up bytes), then timed rounds of <c>RoundBytes</c> steps go round all the
    /// states in turn, so near and far positions and the architectures are measured side by side.
    /// </summary>
    List<GenerationRow> MeasureGeneration(CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        var models = Architectures.Select(Build).ToArray();
        using var noGrad = no_grad();
        int bytesPerState = plan.GenerationWarmupBytes + plan.GenerationRounds * plan.GenerationRoundBytes;
        var runs = new List<(int Model, long Position, IInferenceState State, Tensor Next)>();
        try
        {
            for (int m = 0; m < models.Length; m++)
            {
                models[m].eval();
                foreach (long position in plan.GenerationPositions)
                {
                    ct.ThrowIfCancellationRequested();
                    IInferenceState state = models[m].NewState(1);
                    runs.Add((m, position, state, RandomBytes(bytesPerState, Seed - position).squeeze(0)));   // (bytes)
                    using var prefill = NewDisposeScope();
                    models[m].Prefill(RandomBytes(position, Seed + position), state);
                }
            }
            var consumed = new int[runs.Count];

            void Steps(int r, int count)
            {
                var (m, _, state, next) = runs[r];
                for (int i = 0; i < count; i++)
                {
                    using var step = NewDisposeScope();
                    models[m].Step(next.narrow(0, consumed[r]++, 1), state);
                }
            }

            for (int r = 0; r < runs.Count; r++) Steps(r, plan.GenerationWarmupBytes);
            Synchronize();
            var samples = runs.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < plan.GenerationRounds; round++)
                for (int r = 0; r < runs.Count; r++)
                    samples[r].Add(Stopwatches.TimeMs(() => Steps(r, plan.GenerationRoundBytes), 0, 1, Synchronize, ct).Median / plan.GenerationRoundBytes);

            var rows = new List<GenerationRow>();
            for (int r = 0; r < runs.Count; r++)
            {
                Spread perByte = Spread.Of(samples[r]);
                var (m, position, _, _) = runs[r];
                rows.Add(new GenerationRow(Architectures[m], position, plan.GenerationRoundBytes, plan.GenerationRounds, perByte,
                    1000.0 / perByte.Median, models[m].GenerationFlopsPerByte(position)));
            }
            return rows;
        }
        finally
        {
            foreach (var run in runs) run.State.Dispose();
            foreach (var model in models) model.Dispose();
        }
    }

    /// <summary>
    /// Mamba decoding at each planned shape (issue 18): per shape an fp32 model and an int8 copy (same seed), every
    /// (step, weights, batch) configuration with its own state after a 16-byte prefill, timed in interleaved rounds
    /// of <c>DecodingRoundBytes</c> steps through the host path generation uses (<c>StepInto</c>); then prompt
    /// processing (one parallel prefill of <c>PromptBytes</c> bytes) at the first shape.
    /// </summary>
    List<DecodingRow> MeasureDecoding(CancellationToken ct)
    {
        var rows = new List<DecodingRow>();
        if (device.type != DeviceType.CPU) return rows;
        using var noGrad = no_grad();
        foreach (MambaConfig shape in plan.DecodingShapes)
        {
            string name = BenchPlan.ShapeName(shape);
            using var fp32 = new MambaLMHeadModel(shape, Seed);
            using var int8 = new MambaLMHeadModel(shape, Seed);
            fp32.eval();
            int8.eval();
            int8.UseWeights(WeightFormat.Int8);
            var runs = new List<(MambaLMHeadModel Model, StepKind Kind, string Step, string Weights, int Batch, IInferenceState State)>();
            try
            {
                foreach (int batch in plan.DecodingBatches) runs.Add((fp32, StepKind.Fused, "fused", "fp32", batch, fp32.NewState(batch)));
                runs.Add((int8, StepKind.Fused, "fused", "int8", 1, int8.NewState(1)));
                runs.Add((fp32, StepKind.Reference, "reference", "fp32", 1, fp32.NewState(1)));
                var random = new Random((int)Seed);
                foreach (var run in runs)
                {
                    using var scope = NewDisposeScope();
                    run.Model.StepKind = run.Kind;
                    run.Model.Prefill(RandomBytes(16, Seed + run.Batch).expand(run.Batch, 16).contiguous(), run.State);
                }

                void Steps(int r, int count)
                {
                    var (model, kind, _, _, batch, state) = runs[r];
                    model.StepKind = kind;
                    var bytes = new byte[batch];
                    var logits = new float[batch * ByteLanguageModel.ByteVocabulary];
                    for (int i = 0; i < count; i++)
                    {
                        random.NextBytes(bytes);
                        model.StepInto(bytes, state, logits);
                    }
                }

                for (int r = 0; r < runs.Count; r++) Steps(r, 2);
                var samples = runs.Select(_ => new List<double>()).ToArray();
                for (int round = 0; round < plan.DecodingRounds; round++)
                    for (int r = 0; r < runs.Count; r++)
                        samples[r].Add(Stopwatches.TimeMs(() => Steps(r, plan.DecodingRoundBytes), 0, 1, Synchronize, ct).Median / plan.DecodingRoundBytes);
                for (int r = 0; r < runs.Count; r++)
                {
                    Spread ms = Spread.Of(samples[r]);
                    rows.Add(new DecodingRow(name, runs[r].Step, runs[r].Weights, runs[r].Batch, plan.DecodingRounds, plan.DecodingRoundBytes, ms, runs[r].Batch * 1000.0 / ms.Median));
                }
            }
            finally
            {
                foreach (var run in runs) run.State.Dispose();
            }
            fp32.StepKind = StepKind.Auto;

            if (shape == plan.DecodingShapes[0])
            {
                using var scope = NewDisposeScope();
                Tensor prompt = RandomBytes(plan.PromptBytes, Seed + 7);
                Spread ms = Stopwatches.TimeMs(() =>
                {
                    using var inner = NewDisposeScope();
                    using IInferenceState state = fp32.NewState(1);
                    fp32.Prefill(prompt, state);
                }, 1, plan.PromptRounds, Synchronize, ct);
                rows.Add(new DecodingRow(name, "prefill", "fp32", 1, plan.PromptRounds, plan.PromptBytes, ms, plan.PromptBytes * 1000.0 / ms.Median));
            }
        }
        return rows;
    }
}
