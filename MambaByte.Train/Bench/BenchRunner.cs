using System.Globalization;
using MambaByte.Core.Models;
using MambaByte.Core.Ops;
using TorchSharp;
using static TorchSharp.torch;

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
        var training = new List<TrainingRow>();
        var generation = new List<GenerationRow>();
        long mambaParameters = 0;
        foreach (string architecture in new[] { "mamba", "transformer", "megabyte" })
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (ByteLanguageModel probe = Build(architecture))
            {
                if (architecture == "mamba") mambaParameters = probe.ParameterCount;
                models.Add(new ModelRow(architecture, probe.ParameterCount, probe.ParameterCount / (double)mambaParameters, Shape(architecture)));
                progress($"{architecture}: {probe.ParameterCount:N0} parameters ({Shape(architecture)})");
            }
            foreach (int context in plan.TrainingContexts)
            {
                TrainingRow row = MeasureTraining(architecture, context, matmul.Gflops.Median * 1e9, cancellationToken);
                training.Add(row);
                progress($"train {architecture} context {context}: {row.BytesPerSecond.Median:F0} bytes/s [{row.BytesPerSecond.Min:F0}..{row.BytesPerSecond.Max:F0}], MFU {row.Mfu:P1}");
            }
            foreach (long position in plan.GenerationPositions)
            {
                GenerationRow row = MeasureGeneration(architecture, position, cancellationToken);
                generation.Add(row);
                progress($"generate {architecture} at {position}: {row.MsPerByte.Median:F3} ms/byte [{row.MsPerByte.Min:F3}..{row.MsPerByte.Max:F3}], {row.BytesPerSecond:F0} bytes/s");
            }
        }

        List<ScanRow> scans = MeasureScans(cancellationToken);
        IReadOnlyList<TargetCheck> targets = BenchTargets.Check(plan, scans, training, generation);
        return new BenchResults(machine, matmul, scans, models, training, generation, targets);
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

    TrainingRow MeasureTraining(string architecture, int context, double matmulFlopsPerSecond, CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        using ByteLanguageModel model = Build(architecture);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4);
        Tensor window = RandomBytes(context + 1, Seed + context);
        Tensor input = window.narrow(1, 0, context), target = window.narrow(1, 1, context);   // (1, context) each

        void Step()
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            model.Loss(input, target).backward();
            optimizer.step();
        }

        Spread ms = Stopwatches.TimeMs(Step, plan.TrainingWarmup, plan.TrainingRepeats, Synchronize, ct);
        Spread bytesPerSecond = ms.Inverted(t => context / (t * 1e-3));
        double flopsPerByte = model.TrainingFlopsPerByte(context);
        return new TrainingRow(architecture, context, plan.TrainingRepeats, ms, bytesPerSecond, flopsPerByte,
            flopsPerByte * bytesPerSecond.Median / matmulFlopsPerSecond);
    }

    GenerationRow MeasureGeneration(string architecture, long position, CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        using ByteLanguageModel model = Build(architecture);
        model.eval();
        using var noGrad = no_grad();
        using var state = model.NewState(1);
        using (var prefill = NewDisposeScope()) model.Prefill(RandomBytes(position, Seed + position), state);
        Tensor next = RandomBytes(plan.GenerationWarmupBytes + plan.GenerationRounds * plan.GenerationRoundBytes, Seed - position).squeeze(0);  // (bytes)
        int consumed = 0;

        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using var step = NewDisposeScope();
                model.Step(next.narrow(0, consumed++, 1), state);
            }
        }

        Steps(plan.GenerationWarmupBytes);
        Synchronize();
        Spread roundMs = Stopwatches.TimeMs(() => Steps(plan.GenerationRoundBytes), 0, plan.GenerationRounds, Synchronize, ct);
        var perByte = new Spread(roundMs.Median / plan.GenerationRoundBytes, roundMs.Min / plan.GenerationRoundBytes, roundMs.Max / plan.GenerationRoundBytes);
        return new GenerationRow(architecture, position, plan.GenerationRoundBytes, plan.GenerationRounds, perByte,
            1000.0 / perByte.Median, model.GenerationFlopsPerByte(position));
    }
}
