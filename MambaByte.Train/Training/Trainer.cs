using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Files;
using MambaByte.Train.Runs;

namespace MambaByte.Train.Training;

/// <summary>
/// The training loop, short and linear as in nanoGPT: batch, forward, loss, backward, clip, step, schedule, log,
/// evaluate, checkpoint. Resuming from a checkpoint restores weights, AdamW moments, batch position, learning-rate
/// position and torch RNG state, so on the CPU every later step's loss equals the uninterrupted run's bit for bit.
/// </summary>
public sealed class Trainer(TrainOptions options, TrainingServices services, ITrainingProgress progress)
{
    const string OptimizerFile = "optimizer.bin";
    const string MetricsFile = "metrics.csv";

    readonly RunDirectory store = new(options.Out);
    CarriedState? carried;

    /// <summary>Called after every optimizer step with the step number (1-based); tests use it to cancel mid-run.</summary>
    public Action<long>? StepCompleted { get; init; }

    /// <summary>Test hook passed to <see cref="RunDirectory.AfterFileWritten"/>.</summary>
    public Action<string>? CheckpointFault { get; init; }

    /// <summary>
    /// Called once per step after backward and clipping, before the optimizer step (or the non-finite stop), with the
    /// step about to be taken (1-based) and the parameters holding their final gradients; tests read them here.
    /// </summary>
    public Action<long, IReadOnlyList<Parameter>>? GradientsReady { get; init; }

    public TrainingOutcome Run(string? resumeFrom = null, CancellationToken cancellationToken = default)
    {
        TorchRuntime.EnsureLoaded();
        Device device = DeviceOption.Parse(options.Device);
        string dtypeNote = options.Dtype;
        bool bf16 = options.Dtype == "bfloat16";
        if (options.Dtype == "auto")
        {
            (ScalarType chosen, double fp32Rate, double bf16Rate) = PeakFlops.ChooseAuto(device);
            bf16 = chosen == ScalarType.BFloat16;
            dtypeNote = $"auto → {(bf16 ? "bfloat16" : "float32")} (matmul fp32 {fp32Rate / 1e9:F1}, bf16 {(bf16Rate > 0 ? $"{bf16Rate / 1e9:F1}" : "n/a")} GFLOP/s; bf16 units: {CpuFeatures.Detect().Bf16Units})";
        }
        store.AfterFileWritten = CheckpointFault;
        DataParallel parallel = services.Parallel;   // one process: every call below is a no-op
        if (parallel.IsRoot) PrepareOutputDirectory();

        // Resume: everything comes from the checkpoint; a fresh run seeds torch before building the model.
        string? resumeCheckpoint = resumeFrom is null ? null : RunDirectory.Resolve(resumeFrom);
        TrainerState? resumed = resumeCheckpoint is null ? null : RunDirectory.ReadState(resumeCheckpoint);
        if (resumed is null) torch.manual_seed(options.Seed);
        ByteLanguageModel model = resumeCheckpoint is null
            ? services.CreateModel(options).to(device)
            : services.LoadModel(resumeCheckpoint, device);
        model.train();
        BFloat16Shadow? shadow = null;
        if (bf16)
        {
            ByteLanguageModel working = services.CreateModel(options).to(device).ToMixedPrecision(bfloat16);
            working.train();
            shadow = new BFloat16Shadow(model, working);
        }
        parallel.Broadcast(model);
        if (parallel.IsRoot) CheckDiskSpace(model);
        // --carry-state: the lanes' recurrent state lives across steps and is part of a checkpoint.
        carried = options.CarryState ? new CarriedState(shadow?.Working ?? model, options.BatchSize) : null;
        if (carried is not null && resumeCheckpoint is not null) carried.Load(resumeCheckpoint);

        using AdamW optimizer = OptimizerSetup.Create(model, options);
        if (resumeCheckpoint is not null) optimizer.load_state_dict(Path.Combine(resumeCheckpoint, OptimizerFile));
        if (resumed is not null) torch.set_rng_state(torch.tensor(Convert.FromBase64String(resumed.TorchRngState)));

        using ITrainingBatches batches = services.OpenBatches(options, resumed?.Sampler);
        IReadOnlyList<ReadOnlyMemory<byte>>? evalDocuments = parallel.IsRoot ? services.EvalDocuments(options) : null;
        string metricsPath = Path.Combine(store.FullPath, MetricsFile);
        if (resumeCheckpoint is not null && parallel.IsRoot)
        {
            // The run's metrics continue from the checkpoint's copy: rows after it belong to the abandoned future.
            string saved = Path.Combine(resumeCheckpoint, MetricsFile);
            if (File.Exists(saved)) File.Copy(saved, metricsPath, overwrite: true);
            MetricsLog.TruncateAfter(metricsPath, resumed!.Step);
        }
        if (parallel.IsRoot) WriteRunJson();
        using MetricsLog? metrics = parallel.IsRoot ? new MetricsLog(metricsPath) : null;
        SummaryWriter? tensorboard = options.Tensorboard && parallel.IsRoot
            ? torch.utils.tensorboard.SummaryWriter(Path.Combine(store.FullPath, "tensorboard"))
            : null;

        double peak = PeakFlops.Measure(device, dtype: bf16 ? bfloat16 : float32);
        double flopsPerByte = model.TrainingFlopsPerByte(options.Context);
        progress.Event($"{model.Architecture}: {model.ParameterCount:N0} parameters, {flopsPerByte:G3} training FLOPs/byte at context {options.Context}; " +
                       $"device {device}; dtype {dtypeNote}; peak {peak / 1e9:F1} GFLOP/s ({(bf16 ? "bf16" : "fp32")} {1024}³ matmul)");
        if (resumeCheckpoint is not null) progress.Event($"resumed from {resumeCheckpoint} at step {resumed!.Step}");

        var schedule = LearningRateSchedule.For(options);
        var parameters = model.parameters().ToList();
        long step = resumed?.Step ?? 0;
        long bytesSeen = resumed?.BytesSeen ?? 0;
        double elapsedBefore = resumed?.ElapsedSeconds ?? 0;
        double best = resumed?.BestEvalBitsPerByte ?? double.PositiveInfinity;
        string? lastCheckpoint = resumeCheckpoint;
        long lastCheckpointStep = resumed?.Step ?? -1;
        var clock = Stopwatch.StartNew();
        double intervalStart = 0;
        long intervalBytes = 0;

        double Elapsed() => elapsedBefore + clock.Elapsed.TotalSeconds;
        double lastLr = schedule.At(Math.Max(0, step - 1), elapsedBefore);   // the rate of the last step taken, for eval rows

        string SaveCheckpoint()
        {
            var state = new TrainerState(step, bytesSeen, Elapsed(), best, batches.State, Convert.ToBase64String(RngState()), TrainOptionsLoader.ToJsonObject(options));
            lastCheckpoint = parallel.IsRoot
                ? store.WriteStep(step, options.KeepLast, dir => WriteCheckpoint(dir, model, optimizer, state, metricsPath))
                : $"rank 0's checkpoint of step {step}";
            lastCheckpointStep = step;
            progress.Event($"step {step}: checkpoint {RunDirectory.Display(lastCheckpoint!)}");
            return lastCheckpoint;
        }

        long lastEvalStep = -1;
        void Evaluate()
        {
            if (evalDocuments is null) return;
            lastEvalStep = step;
            BitsPerByteResult result = BitsPerByteEvaluator.Windowed(model, evalDocuments, options.Context, options.Context, options.BatchSize, cancellationToken);
            model.train();
            metrics?.Write(new MetricsRow("eval", step, bytesSeen, result.BitsPerByte * Math.Log(2), result.BitsPerByte, lastLr, 0, 0, Elapsed(), options.EvalSplit));
            tensorboard?.add_scalar("eval/bits_per_byte", (float)result.BitsPerByte, (int)step);
            string note = "";
            if (result.BitsPerByte < best)
            {
                best = result.BitsPerByte;
                var state = new TrainerState(step, bytesSeen, Elapsed(), best, batches.State, Convert.ToBase64String(RngState()), TrainOptionsLoader.ToJsonObject(options));
                store.WriteBest(dir => WriteCheckpoint(dir, model, optimizer, state, metricsPath));
                note = " (best so far: saved to best/)";
            }
            progress.Event($"step {step}: eval {options.EvalSplit} {result.BitsPerByte:F4} bits/byte over {result.BytesScored:N0} bytes{note}");
        }

        // The time limit counts the run's whole training time: a resumed run gets only what is left of it. Under MPI
        // every rank stops at the same step (the ranks agree through an allreduce).
        bool LimitReached() => parallel.Any(
            (options.MaxSteps > 0 && step >= options.MaxSteps)
            || (options.MaxBytes > 0 && bytesSeen >= options.MaxBytes)
            || (options.MaxMinutes > 0 && Elapsed() >= options.MaxMinutes * 60));

        // SIGINT/SIGTERM: a checkpoint of the last completed step (work in progress, such as an evaluation, is dropped).
        TrainingOutcome StopOnSignal(string during)
        {
            string saved = lastCheckpointStep == step && lastCheckpoint is not null ? lastCheckpoint : SaveCheckpoint();
            return new TrainingOutcome(TrainingStopReason.Interrupted, step, saved, best,
                $"interrupted at step {step}{during}: checkpoint saved to {saved}; continue with --resume {store.FullPath}");
        }

        try
        {
            while (!LimitReached())
            {
                if (parallel.Any(cancellationToken.IsCancellationRequested)) return StopOnSignal("");

                // A run limited only by time decays over its time budget (LearningRateSchedule): the rate of a step
                // depends on when it starts, counted across resumes like the limit itself.
                double lr = schedule.At(step, Elapsed());
                lastLr = lr;
                OptimizerSetup.SetLearningRate(optimizer, lr);
                double gradNorm;
                Tensor stepLoss;
                using var scope = NewDisposeScope();
                {
                    ByteLanguageModel forwardModel = shadow?.Working ?? model;
                    shadow?.CopyWeightsDown();
                    stepLoss = zeros(1, device: device);
                    for (int micro = 0; micro < options.GradAccum; micro++)
                    {
                        TrainingBatch batch = batches.Next();
                        Tensor input = BytesToTensor(batch.Inputs, batch.Rows, batch.Length, device);    // (b, l)
                        Tensor target = BytesToTensor(batch.Targets, batch.Rows, batch.Length, device);  // (b, l)
                        Tensor loss = carried is null
                            ? forwardModel.Loss(input, target)
                            : carried.Loss(forwardModel, input, target, batch.ResetBefore);
                        (loss / options.GradAccum).backward();
                        stepLoss.add_(loss.detach().to(float32) / options.GradAccum);
                    }
                    shadow?.CopyGradientsUp();
                    parallel.AverageGradients(parameters);
                    // The norm is needed anyway for clipping and it syncs once per step: a non-finite norm is
                    // how a NaN/inf loss is caught before it reaches the weights.
                    gradNorm = options.GradClip > 0
                        ? nn.utils.clip_grad_norm_(parameters, options.GradClip)
                        : GradientNorm(parameters);
                    GradientsReady?.Invoke(step + 1, parameters);
                }
                if (!double.IsFinite(gradNorm))
                {
                    double lossValue = stepLoss.item<float>();
                    optimizer.zero_grad();
                    string keep = lastCheckpoint is null ? "no checkpoint was written yet" : $"last good checkpoint: {lastCheckpoint}";
                    return new TrainingOutcome(TrainingStopReason.NonFiniteLoss, step, lastCheckpoint, best,
                        $"step {step + 1}: non-finite loss ({lossValue.ToString(CultureInfo.InvariantCulture)}, gradient norm {gradNorm.ToString(CultureInfo.InvariantCulture)}); stopped before the update; {keep}");
                }
                optimizer.step();
                optimizer.zero_grad();
                step++;
                bytesSeen += options.BytesPerStep;
                intervalBytes += options.BytesPerStep;

                bool last = LimitReached();
                if (step % options.LogEvery == 0 || last)
                {
                    double loss = parallel.Average(stepLoss.item<float>());
                    double now = clock.Elapsed.TotalSeconds;
                    double bytesPerSecond = intervalBytes / Math.Max(1e-9, now - intervalStart);
                    double mfu = flopsPerByte * bytesPerSecond / (peak * parallel.Size);   // bytes/s count all ranks
                    metrics?.Write(new MetricsRow("train", step, bytesSeen, loss, loss / Math.Log(2), lr, bytesPerSecond, mfu, Elapsed(), options.TrainSplit));
                    tensorboard?.add_scalar("train/loss", (float)loss, (int)step);
                    tensorboard?.add_scalar("train/bits_per_byte", (float)(loss / Math.Log(2)), (int)step);
                    tensorboard?.add_scalar("train/lr", (float)lr, (int)step);
                    progress.Status(StatusLine(step, loss, lr, bytesPerSecond, mfu, Eta(step, bytesSeen, Elapsed(), bytesPerSecond)));
                    intervalStart = now;
                    intervalBytes = 0;
                }
                if (options.EvalEvery > 0 && step % options.EvalEvery == 0 && !last)
                {
                    try
                    {
                        Evaluate();
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return StopOnSignal(" (during the evaluation)");
                    }
                }
                if (options.CheckpointEvery > 0 && step % options.CheckpointEvery == 0 && !last) SaveCheckpoint();
                StepCompleted?.Invoke(step);
            }

            try
            {
                // A time limit can end the run right after a periodic evaluation: that one is the final score.
                if (lastEvalStep != step) Evaluate();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return StopOnSignal(" (during the final evaluation)");
            }
            string final = lastCheckpointStep == step && lastCheckpoint is not null ? lastCheckpoint : SaveCheckpoint();
            string bestText = double.IsFinite(best) ? $"; best eval {best:F4} bits/byte" : "";
            return new TrainingOutcome(TrainingStopReason.Completed, step, final, best,
                $"done: {step} steps, {bytesSeen:N0} bytes in {clock.Elapsed.TotalSeconds:F1} s{bestText}; last checkpoint {RunDirectory.Display(final)}");
        }
        finally
        {
            model.Dispose();
            shadow?.Working.Dispose();
            carried?.Dispose();
        }
    }

    string StatusLine(long step, double loss, double lr, double bytesPerSecond, double mfu, string eta)
    {
        string of = options.MaxSteps > 0 ? $"/{options.MaxSteps}" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"step {step}{of} | loss {loss:F4} | bpb {loss / Math.Log(2):F4} | lr {lr:0.00E+00} | {bytesPerSecond / 1000:F1} kB/s | MFU {mfu * 100:F2}% | ETA {eta}");
    }

    string Eta(long step, long bytesSeen, double seconds, double bytesPerSecond)
    {
        var remaining = new List<double>();
        double secondsPerStep = options.BytesPerStep / Math.Max(1e-9, bytesPerSecond);
        if (options.MaxSteps > 0) remaining.Add((options.MaxSteps - step) * secondsPerStep);
        if (options.MaxBytes > 0) remaining.Add((options.MaxBytes - bytesSeen) / Math.Max(1e-9, bytesPerSecond));
        if (options.MaxMinutes > 0) remaining.Add(options.MaxMinutes * 60 - seconds);
        if (remaining.Count == 0) return "?";
        var eta = TimeSpan.FromSeconds(Math.Max(0, remaining.Min()));
        return eta.TotalHours >= 1 ? $"{(int)eta.TotalHours}h{eta.Minutes:D2}m" : $"{eta.Minutes}m{eta.Seconds:D2}s";
    }

    void PrepareOutputDirectory()
    {
        try
        {
            Directory.CreateDirectory(store.FullPath);
            string probe = Path.Combine(store.FullPath, ".write-test-" + Guid.NewGuid().ToString("N")[..8]);
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--out {options.Out}: the output folder is not writable ({e.Message})", e);
        }
        store.RemoveStaleTemporaries();
    }

    /// <summary>Refuses to start when the volume cannot hold the kept checkpoints, best/ and one being written.</summary>
    void CheckDiskSpace(ByteLanguageModel model)
    {
        long parameterBytes = model.parameters().Sum(p => p.numel() * p.element_size());
        long perCheckpoint = 3 * parameterBytes + (1 << 20);          // weights + two AdamW moments + state and metrics
        long needed = perCheckpoint * (options.KeepLast + 2);
        long free = services.FreeSpace(store.FullPath);
        if (free < needed)
            throw new IOException($"--out {options.Out}: about {needed / 1e6:F1} MB are needed for checkpoints ({options.KeepLast} kept + best/ + one being written, {perCheckpoint / 1e6:F1} MB each) but only {free / 1e6:F1} MB are free");
    }

    void WriteRunJson()
    {
        AtomicFile.WriteAllText(Path.Combine(store.FullPath, "run.json"), TrainOptionsLoader.ToJson(options));
    }

    void WriteCheckpoint(string dir, ByteLanguageModel model, AdamW optimizer, TrainerState state, string metricsPath)
    {
        services.SaveModel(model, dir);
        optimizer.save_state_dict(Path.Combine(dir, OptimizerFile));
        RunDirectory.WriteState(dir, state);
        if (File.Exists(metricsPath)) File.Copy(metricsPath, Path.Combine(dir, MetricsFile));
        carried?.Save(dir);
    }

    static byte[] RngState()
    {
        using Tensor state = torch.get_rng_state();
        return state.data<byte>().ToArray();
    }

    static Tensor BytesToTensor(byte[] bytes, int rows, int length, Device device)
    {
        using Tensor raw = torch.tensor(bytes, [rows, length]);
        return raw.to(int64).to(device);
    }

    static double GradientNorm(IEnumerable<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        Tensor total = zeros(1, dtype: float64);
        foreach (Parameter p in parameters)
        {
            Tensor? g = p.grad;
            if (g is not null) total += g.to(float64).pow(2).sum().cpu();
        }
        return Math.Sqrt(total.item<double>());
    }
}
