using System.Globalization;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Modules;
using MambaByte.Core.Native;
using MambaByte.Train.Training;
using MambaByte.Core.Ops;
using TorchSharp;
using static TorchSharp.torch;

using MambaByte.Core.Diagnostics;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

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
        foreach (BenchModelSet set in plan.ModelSets)
        {
            long mambaParameters = 0;
            foreach (string architecture in Architectures)
            {
                using ByteLanguageModel probe = Build(set, architecture);
                if (mambaParameters == 0) mambaParameters = probe.ParameterCount;   // the set's first model, Mamba, is the reference
                models.Add(new ModelRow(set.Name, architecture, probe.ParameterCount, probe.ParameterCount / (double)mambaParameters, Shape(set, architecture)));
                progress($"{set.Name} {architecture}: {probe.ParameterCount:N0} parameters ({Shape(set, architecture)})");
            }
        }

        List<MixerRow> mixers = MeasureMixers(cancellationToken);

        var training = new List<TrainingRow>();
        foreach (BenchModelSet set in plan.ModelSets)
        {
            foreach (int context in set.Contexts)
            {
                foreach (TrainingRow row in MeasureTraining(set, context, cancellationToken))
                {
                    training.Add(row);
                    progress($"train {set.Name} {row.Dtype} {row.Architecture} context {context}: {row.BytesPerSecond.Median:F0} bytes/s [{row.BytesPerSecond.Min:F0}..{row.BytesPerSecond.Max:F0}], " +
                             $"{row.TrainingGflops:F1} training GFLOP/s, MFU {row.Mfu:P1} of {row.MatmulGflopsSameRounds:F1} GFLOP/s");
                }
            }
        }

        var generation = MeasureGeneration(cancellationToken);
        foreach (GenerationRow row in generation)
            progress($"generate {row.Architecture} at {row.Position}: {row.MsPerByte.Median:F3} ms/byte [{row.MsPerByte.Min:F3}..{row.MsPerByte.Max:F3}], {row.BytesPerSecond:F0} bytes/s");

        List<DecodingRow> decoding = MeasureDecoding(cancellationToken);
        foreach (DecodingRow row in decoding)
            progress($"decode mamba {row.Shape} {row.Step} {row.Weights} batch {row.Batch}: {row.Ms.Median:F3} ms [{row.Ms.Min:F3}..{row.Ms.Max:F3}], {row.BytesPerSecond:F0} bytes/s");

        List<SpeculativeRow> speculative = MeasureSpeculative(cancellationToken);
        foreach (SpeculativeRow row in speculative)
            progress($"speculative {row.Target} / draft {row.Draft}{(row.Trained ? "" : " (untrained)")} K {row.DraftBytes} {row.Restore}: {row.BytesPerSecond.Median:F0} bytes/s [{row.BytesPerSecond.Min:F0}..{row.BytesPerSecond.Max:F0}], acceptance {row.Acceptance:P1}, {row.SpeedUp:F2}x plain");

        List<ScanRow> scans = MeasureScans(cancellationToken);
        IReadOnlyList<TargetCheck> targets = [.. BenchTargets.Check(plan, scans, mixers, training, generation, CpuFeatures.Detect()), .. DecodingTargets.Check(plan, generation, decoding, speculative)];
        return new BenchResults(machine, matmul, scans, models, mixers, training, generation, targets, decoding, speculative);
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

    ByteLanguageModel Build(string architecture) => Build(plan.Equal, architecture);

    ByteLanguageModel Build(BenchModelSet set, string architecture)
    {
        ByteLanguageModel model = set.Config(architecture).WithSeed(Seed).Build();
        model.to(device);
        return model;
    }

    static string Shape(BenchModelSet set, string architecture) => set.Config(architecture).Shape;

    Tensor RandomBytes(long count, long seed)
    {
        using var generator = new Generator(unchecked((ulong)seed));
        return randint(0, ByteLanguageModel.ByteVocabulary, [1, count], dtype: int64, generator: generator).to(device);   // (1, count)
    }

    string[] Architectures => [.. plan.Equal.Models.Select(m => m.Architecture)];

    /// <summary>One timed matrix product at the plan's size, in FLOP/s: sampled in the same rounds as the steps it normalises.</summary>
    double MatmulFlopsPerSecond(Tensor a, Tensor b)
    {
        Spread ms = Stopwatches.TimeMs(() => { using Tensor c = a.matmul(b); }, 0, 1, Synchronize, CancellationToken.None);
        return 2.0 * a.shape[0] * a.shape[1] * b.shape[1] / (ms.Median * 1e-3);
    }

    /// <summary>
    /// Training steps of the three architectures of a set at one context, in every dtype of the plan, interleaved
    /// round by round (each architecture in each dtype, then one matmul per dtype; repeat), so that a change in the
    /// machine's load hits all of them alike. bf16 steps are mixed precision as the trainer runs them: the fp32 masters
    /// are copied into a bf16 working copy, which runs forward and backward, and its gradients come back to the fp32
    /// AdamW step. MFU divides by the median matmul FLOP/s of the row's dtype sampled in the same rounds.
    /// </summary>
    List<TrainingRow> MeasureTraining(BenchModelSet set, int context, CancellationToken ct)
    {
        using var scope = NewDisposeScope();
        var entries = new List<(string Architecture, string Dtype, ByteLanguageModel Master, BFloat16Shadow? Shadow, optim.Optimizer Optimizer)>();
        var productEntries = new Dictionary<string, MambaProducts>();
        try
        {
            foreach (string architecture in Architectures)
            {
                foreach (string dtype in plan.TrainingDtypes)
                {
                    ByteLanguageModel master = Build(set, architecture);
                    master.train();
                    BFloat16Shadow? shadow = null;
                    if (dtype == "bfloat16")
                    {
                        ByteLanguageModel working = Build(set, architecture).ToMixedPrecision(bfloat16);
                        working.train();
                        shadow = new BFloat16Shadow(master, working);
                    }
                    entries.Add((architecture, dtype, master, shadow, new Core.Modules.Fused.AdamW(master.parameters(), lr: 1e-4)));
                }
            }
            Tensor window = RandomBytes(context + 1, Seed + context);
            Tensor input = window.narrow(1, 0, context), target = window.narrow(1, 1, context);   // (1, context) each

            // Mamba's products alone in each dtype, timed in the same rounds: the ceilings of its targets.
            var mambaConfig = (MambaConfig)set.Config(MambaConfig.ArchitectureName);
            foreach (string dtype in plan.TrainingDtypes) productEntries[dtype] = new MambaProducts(mambaConfig, TypeOf(dtype), device, Seed);
            Dictionary<string, Tensor> productsInput;
            using (var inputGen = new Generator(Seed + 1))
            {
                Tensor x = randn([1, context, mambaConfig.DModel], generator: inputGen).to(device);
                productsInput = productEntries.ToDictionary(kv => kv.Key, kv => x.to_type(kv.Value.Dtype));
            }
            using var gen = new Generator(Seed);
            int n = plan.MatmulSize;
            var operands = plan.TrainingDtypes.ToDictionary(d => d, d =>
            {
                return (A: randn([n, n], generator: gen).to(device).to_type(TypeOf(d)), B: randn([n, n], generator: gen).to(device).to_type(TypeOf(d)));
            });

            Action Step(int i) => () =>
            {
                using var step = NewDisposeScope();
                var (_, _, master, shadow, optimizer) = entries[i];
                optimizer.zero_grad();
                shadow?.CopyWeightsDown();
                (shadow?.Working ?? master).Loss(input, target).backward();
                shadow?.CopyGradientsUp();
                optimizer.step();
            };

            Action ProductsStep(string dtype) => () => productEntries[dtype].Step(productsInput[dtype], target);   // Step has its own dispose scope

            for (int i = 0; i < entries.Count; i++) Stopwatches.TimeMs(Step(i), plan.TrainingWarmup, 1, Synchronize, ct);
            foreach (string dtype in plan.TrainingDtypes) Stopwatches.TimeMs(ProductsStep(dtype), plan.TrainingWarmup, 1, Synchronize, ct);
            var samples = entries.Select(_ => new List<double>()).ToArray();
            var matmul = plan.TrainingDtypes.ToDictionary(d => d, _ => new List<double>());
            var productSamples = plan.TrainingDtypes.ToDictionary(d => d, _ => new List<double>());
            for (int round = 0; round < plan.TrainingRepeats; round++)
            {
                for (int i = 0; i < entries.Count; i++) samples[i].Add(Stopwatches.TimeMs(Step(i), 0, 1, Synchronize, ct).Median);
                foreach (string dtype in plan.TrainingDtypes) productSamples[dtype].Add(Stopwatches.TimeMs(ProductsStep(dtype), 0, 1, Synchronize, ct).Median);
                foreach (string dtype in plan.TrainingDtypes) matmul[dtype].Add(MatmulFlopsPerSecond(operands[dtype].A, operands[dtype].B));
            }

            var rows = new List<TrainingRow>();
            for (int i = 0; i < entries.Count; i++)
            {
                var (architecture, dtype, master, _, _) = entries[i];
                double matmulFlops = Spread.Of(matmul[dtype]).Median;
                Spread ms = Spread.Of(samples[i]);
                Spread bytesPerSecond = ms.Inverted(t => context / (t * 1e-3));
                double flopsPerByte = master.TrainingFlopsPerByte(context);
                Spread? productsMs = architecture == MambaConfig.ArchitectureName ? Spread.Of(productSamples[dtype]) : null;
                rows.Add(new TrainingRow(set.Name, dtype, architecture, context, plan.TrainingRepeats, ms, bytesPerSecond, flopsPerByte,
                    matmulFlops / 1e9, flopsPerByte * bytesPerSecond.Median / matmulFlops, productsMs));
            }
            return rows;
        }
        finally
        {
            foreach (var e in entries)
            {
                e.Optimizer.Dispose();
                e.Shadow?.Working.Dispose();
                e.Master.Dispose();
            }
            foreach (MambaProducts products in productEntries.Values) products.Dispose();
        }
    }

    /// <summary>The tensor dtype of a plan's dtype name ("float32" or "bfloat16").</summary>
    static ScalarType TypeOf(string dtype) => dtype == "bfloat16" ? bfloat16 : float32;

    /// <summary>
    /// One Mamba mixer per planned (d_model, context): forward and backward on a (1, context, d_model) input through the
    /// tensor-op mixer and through the fused one, alternately, so both see the same load.
    /// </summary>
    List<MixerRow> MeasureMixers(CancellationToken ct)
    {
        var rows = new List<MixerRow>();
        if (device.type != DeviceType.CPU) return rows;
        foreach ((int dModel, int context) in plan.MixerCases)
        {
            using var scope = NewDisposeScope();
            manual_seed(Seed);
            using var mixer = new MambaMixer(new MambaConfig { DModel = dModel, NLayer = 1 });
            using var gen = new Generator(Seed);
            Tensor hidden = randn([1, context, dModel], generator: gen).requires_grad_();
            Tensor gradOut = randn([1, context, dModel], generator: gen);

            Action Pass(MixerKind kind) => () =>
            {
                using var pass = NewDisposeScope();
                mixer.zero_grad();
                hidden.grad?.zero_();
                (mixer.Forward(hidden, null, SelectiveScanKind.Auto, kind) * gradOut).sum().backward();
            };

            using var products = new MambaProducts(new MambaConfig { DModel = dModel, NLayer = 1 }, float32, device, Seed);
            Action ProductsPass = () =>
            {
                hidden.grad?.zero_();
                products.MixerStep(hidden, gradOut);
            };

            var (warmup, roundMs) = Stopwatches.WarmUp([Pass(MixerKind.TensorOps), Pass(MixerKind.Fused), ProductsPass], plan.MixerWarmupRounds,
                plan.MixerSettledRounds, TimeSpan.FromMilliseconds(plan.MixerWarmupMs), TimeSpan.FromMilliseconds(plan.MixerWarmupMaxMs), Synchronize, ct);
            var tensorOps = new List<double>();
            var fused = new List<double>();
            var productsOnly = new List<double>();
            int repeats = Stopwatches.RoundsFor(roundMs, plan.MixerBudgetMs, plan.MixerRounds, plan.MixerMaxRounds);
            for (int r = 0; r < repeats; r++)
            {
                tensorOps.Add(Stopwatches.TimeMs(Pass(MixerKind.TensorOps), 0, 1, Synchronize, ct).Median);
                fused.Add(Stopwatches.TimeMs(Pass(MixerKind.Fused), 0, 1, Synchronize, ct).Median);
                productsOnly.Add(Stopwatches.TimeMs(ProductsPass, 0, 1, Synchronize, ct).Median);
            }
            var row = new MixerRow(dModel, context, warmup, repeats, Spread.Of(tensorOps), Spread.Of(fused), Spread.Of(productsOnly));
            rows.Add(row);
            progress($"mixer d_model {dModel} context {context}: tensor ops {row.TensorOpsMs.Median:F2} ms, fused {row.FusedMs.Median:F2} ms, " +
                     $"products alone {row.ProductsMs.Median:F2} ms forward+backward ({row.Speedup:F1}x, ceiling {row.Ceiling:F1}x)");
        }
        return rows;
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
    /// of at least <c>DecodingRoundBytes</c> steps and <c>DecodingRoundMs</c> through the host path generation uses
    /// (<c>StepInto</c>); then prompt
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

                // Warm-up, then each configuration's round length from its own step time (DecodingRoundMs).
                var roundBytes = new int[runs.Count];
                for (int r = 0; r < runs.Count; r++)
                {
                    Steps(r, 2);
                    double stepMs = Stopwatches.TimeMs(() => Steps(r, 4), 0, 1, Synchronize, ct).Median / 4;
                    roundBytes[r] = (int)Math.Clamp(Math.Ceiling(plan.DecodingRoundMs / Math.Max(stepMs, 1e-3)), plan.DecodingRoundBytes, 100_000);
                }
                var samples = runs.Select(_ => new List<double>()).ToArray();
                for (int round = 0; round < plan.DecodingRounds; round++)
                    for (int r = 0; r < runs.Count; r++)
                        samples[r].Add(Stopwatches.TimeMs(() => Steps(r, roundBytes[r]), 0, 1, Synchronize, ct).Median / roundBytes[r]);
                for (int r = 0; r < runs.Count; r++)
                {
                    Spread ms = Spread.Of(samples[r]);
                    rows.Add(new DecodingRow(name, runs[r].Step, runs[r].Weights, runs[r].Batch, plan.DecodingRounds, roundBytes[r], ms, runs[r].Batch * 1000.0 / ms.Median));
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

    /// <summary>
    /// Greedy generation after a fixed prompt, plain and speculative (each K × restore strategy), alternated run by
    /// run so every configuration meets the same machine load; every speculative output must equal the plain one.
    /// </summary>
    List<SpeculativeRow> MeasureSpeculative(CancellationToken ct)
    {
        var rows = new List<SpeculativeRow>();
        if (device.type != DeviceType.CPU) return rows;
        (string Target, string Draft)? paths = plan.SpeculativeCheckpoints;
        using MambaLMHeadModel target = paths is { } p1 ? LoadMamba(p1.Target, "--speculative-target") : new MambaLMHeadModel(plan.SpeculativeTarget, Seed);
        using MambaLMHeadModel draft = paths is { } p2 ? LoadMamba(p2.Draft, "--speculative-draft") : new MambaLMHeadModel(plan.SpeculativeDraft, Seed + 1);
        string targetName = $"{BenchPlan.ShapeName(target.Config)} ({target.ParameterCount:N0})", draftName = $"{BenchPlan.ShapeName(draft.Config)} ({draft.ParameterCount:N0})";
        byte[] prompt = "And God said"u8.ToArray();
        var greedy = new SamplingOptions(Temperature: 0);
        var configs = new List<(int K, SpeculativeRestore Restore)> { (0, SpeculativeRestore.Snapshots) };
        foreach (int k in plan.SpeculativeDraftBytes)
            foreach (SpeculativeRestore restore in new[] { SpeculativeRestore.Snapshots, SpeculativeRestore.Rerun }) configs.Add((k, restore));
        var rates = configs.Select(_ => new List<double>()).ToArray();
        var acceptance = new double[configs.Count];
        byte[]? plain = null;
        for (int round = 0; round < plan.SpeculativeRounds; round++)
            for (int c = 0; c < configs.Count; c++)
            {
                ct.ThrowIfCancellationRequested();
                var (k, restore) = configs[c];
                GenerationResult result;
                if (k == 0) result = ByteGenerator.Generate(target, prompt, plan.SpeculativeBytes, greedy, cancellationToken: ct);
                else
                {
                    (result, SpeculativeDecoder decoder) = SpeculativeDecoder.Generate(target, draft, k, prompt, plan.SpeculativeBytes, greedy, null, ct, restore);
                    using (decoder) acceptance[c] = decoder.Proposed > 0 ? (double)decoder.Accepted / decoder.Proposed : 0;
                }
                plain ??= result.Bytes;
                if (!result.Bytes.AsSpan().SequenceEqual(plain))
                    throw new InvalidOperationException($"speculative K {k} ({restore}) emitted other bytes than greedy generation: the decoder is broken");
                rates[c].Add(result.Bytes.Length / result.Elapsed.TotalSeconds);
            }
        double plainMedian = Spread.Of(rates[0]).Median;
        for (int c = 0; c < configs.Count; c++)
        {
            Spread spread = Spread.Of(rates[c]);
            var (k, restore) = configs[c];
            rows.Add(new SpeculativeRow(targetName, draftName, paths is not null, k, k == 0 ? "-" : restore.ToString().ToLowerInvariant(),
                plan.SpeculativeRounds, plan.SpeculativeBytes, spread, acceptance[c], spread.Median / plainMedian));
        }
        return rows;
    }

    MambaLMHeadModel LoadMamba(string path, string option)
    {
        ByteLanguageModel model = Core.Checkpoints.ModelCheckpoint.Load(Models.ModelLocator.ModelDirectory(path), device);
        if (model is MambaLMHeadModel mamba) return mamba;
        model.Dispose();
        throw new UserInputException($"{option} {path}: speculative decoding needs a Mamba model; this checkpoint is {model.Architecture}");
    }
}
