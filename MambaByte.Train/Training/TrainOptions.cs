using System.ComponentModel;
using MambaByte.Core.Native;
using MambaByte.Core.Architectures;
using MambaByte.Core.Models;
using System.Text.Json.Serialization;

namespace MambaByte.Train.Training;

/// <summary>
/// Every knob of <c>mambabyte train</c>, with its default. The same names serve as <c>--option</c> on the command
/// line and as keys of <c>run.json</c> (kebab-case), so a saved run.json replays a run with <c>--config</c>.
/// </summary>
public sealed record TrainOptions
{
    [Description("architecture: " + TrainOptionsLoader.ArchitecturesPlaceholder)] public string Arch { get; init; } = ArchitectureRegistry.Default.Name;
    [Description("size preset of the architecture (see the model docs), e.g. tiny")] public string Preset { get; init; } = "tiny";
    [Description("config.json of the exact model to train (any architecture; overrides --preset, --d-model and --n-layer)")] public string ModelConfig { get; init; } = "";
    [Description("model width; overrides the preset (0 = the preset's)")] public int DModel { get; init; }
    [Description("number of layers; overrides the preset (0 = the preset's)")] public int NLayer { get; init; }
    [Description("prepared store directory or shipped dataset name/path (e.g. kjv)")] public string Data { get; init; } = "kjv";
    [Description("split to train on")] public string TrainSplit { get; init; } = "train";
    [Description("split for periodic evaluation (skipped when the store has none)")] public string EvalSplit { get; init; } = "validation";
    [Description("run directory: checkpoints/step-N/, best/, metrics.csv, run.json")] public string Out { get; init; } = "runs/latest";
    [Description("cpu, cuda, cuda:N or auto")] public string Device { get; init; } = DeviceOption.Default;
    [Description("float32, bfloat16 (mixed precision: bf16 matrix products, fp32 master weights, optimizer, A_log, D, dt bias, norms and residual), or auto (bfloat16 where its matmul measures faster)")] public string Dtype { get; init; } = "float32";
    [Description("bytes per training window")] public int Context { get; init; } = 256;
    [Description("windows per micro-batch (with --carry-state: lanes, each reading its own document stream; per rank under mpiexec: the global batch is ranks × this)")] public int BatchSize { get; init; } = 8;
    [Description("micro-batches per optimizer step")] public int GradAccum { get; init; } = 1;
    [Description("Mamba: each lane reads its documents window after window with the conv and SSM state carried across windows, reset to zero at every document start")] public bool CarryState { get; init; }
    [Description("with --carry-state: windows a gradient flows back through before the carried state is detached (one micro-batch holds them)")] public int BpttWindows { get; init; } = 1;
    [Description("peak learning rate")] public double Lr { get; init; } = 2e-3;
    [Description("final learning rate as a fraction of the peak (cosine decay floor)")] public double MinLrRatio { get; init; } = 0.1;
    [Description("linear warmup steps")] public int WarmupSteps { get; init; } = 20;
    [Description("steps of the cosine decay (0 = until --max-steps, or the steps --max-bytes allows; with only --max-minutes the decay runs over the time budget)")] public long DecaySteps { get; init; }
    [Description("AdamW beta1")] public double Beta1 { get; init; } = 0.9;
    [Description("AdamW beta2")] public double Beta2 { get; init; } = 0.95;
    [Description("AdamW weight decay (matrices only; biases, norms, A_log and D are exempt)")] public double WeightDecay { get; init; } = 0.1;
    [Description("gradient-norm clip (0 = off)")] public double GradClip { get; init; } = 1.0;
    [Description("seed of the model init and the batch order")] public long Seed { get; init; } = 1337;
    [Description("stop after this many optimizer steps (0 = no limit; the default applies only when neither --max-bytes nor --max-minutes is given)")] public long MaxSteps { get; init; } = 1000;
    [Description("stop after this many training bytes (0 = no limit)")] public long MaxBytes { get; init; }
    [Description("stop after this many minutes of wall time (0 = no limit)")] public double MaxMinutes { get; init; }
    [Description("print and record a metrics row every N steps")] public int LogEvery { get; init; } = 10;
    [Description("evaluate on the eval split every N steps (0 = only at the end)")] public int EvalEvery { get; init; } = 200;
    [Description("bytes of the eval split to score per evaluation (0 = all)")] public long EvalBytes { get; init; } = 65536;
    [Description("write checkpoints/step-N every N steps (0 = only at the end)")] public int CheckpointEvery { get; init; } = 200;
    [Description("keep the last K step checkpoints (best/ is kept apart)")] public int KeepLast { get; init; } = 2;
    [Description("cache folder for prepared shipped datasets (default: beside the dataset)")] public string CacheDir { get; init; } = "";
    [Description("write TensorBoard event files to <out>/tensorboard")] public bool Tensorboard { get; init; } = true;

    /// <summary>Bytes of one micro-batch row: a window, or with --carry-state the --bptt-windows windows trained as one graph.</summary>
    [JsonIgnore] public int RowLength => CarryState ? Context * BpttWindows : Context;

    /// <summary>MPI ranks training together (set from the launcher, not an option): --batch-size is per rank.</summary>
    [JsonIgnore] public int Ranks { get; init; } = 1;

    /// <summary>Bytes of one optimizer step over all ranks (the global batch).</summary>
    [JsonIgnore] public long BytesPerStep => (long)RowLength * BatchSize * GradAccum * Ranks;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException(message);
        }
        IArchitecture? architecture = ArchitectureRegistry.Find(Arch);
        Check(architecture is not null, $"--arch {Arch}: expected {ArchitectureRegistry.NamesText}");
        Check(Dtype is "float32" or "bfloat16" or "auto", $"--dtype {Dtype}: expected float32, bfloat16 or auto");
        Check(Context >= 1, $"--context {Context}: expected >= 1");
        Check(BatchSize >= 1, $"--batch-size {BatchSize}: expected >= 1");
        Check(GradAccum >= 1, $"--grad-accum {GradAccum}: expected >= 1");
        Check(!CarryState || architecture!.CanCarryState, $"--carry-state: --arch {Arch} has no recurrent state to carry across windows (only {ArchitectureRegistry.StatefulNamesText})");
        Check(BpttWindows >= 1, $"--bptt-windows {BpttWindows}: expected >= 1");
        Check(BpttWindows == 1 || CarryState, $"--bptt-windows {BpttWindows}: needs --carry-state");
        Check((long)Context * BpttWindows <= 1 << 24, $"--bptt-windows {BpttWindows} × --context {Context}: at most {1 << 24} bytes per lane");
        Check(Lr > 0 && double.IsFinite(Lr), $"--lr {Lr}: expected a positive number");
        Check(MinLrRatio is >= 0 and <= 1, $"--min-lr-ratio {MinLrRatio}: expected 0 to 1");
        Check(WarmupSteps >= 0, $"--warmup-steps {WarmupSteps}: expected >= 0");
        Check(DecaySteps >= 0, $"--decay-steps {DecaySteps}: expected >= 0");
        Check(Beta1 is >= 0 and < 1, $"--beta1 {Beta1}: expected [0, 1)");
        Check(Beta2 is >= 0 and < 1, $"--beta2 {Beta2}: expected [0, 1)");
        Check(WeightDecay >= 0, $"--weight-decay {WeightDecay}: expected >= 0");
        Check(GradClip >= 0, $"--grad-clip {GradClip}: expected >= 0");
        Check(MaxSteps >= 0 && MaxBytes >= 0 && MaxMinutes >= 0, "--max-steps, --max-bytes and --max-minutes must be >= 0");
        Check(MaxSteps > 0 || MaxBytes > 0 || MaxMinutes > 0, "no limit set: give --max-steps, --max-bytes or --max-minutes");
        Check(LogEvery >= 1, $"--log-every {LogEvery}: expected >= 1");
        Check(EvalEvery >= 0, $"--eval-every {EvalEvery}: expected >= 0");
        Check(EvalBytes >= 0, $"--eval-bytes {EvalBytes}: expected >= 0");
        Check(CheckpointEvery >= 0, $"--checkpoint-every {CheckpointEvery}: expected >= 0");
        Check(KeepLast >= 1, $"--keep-last {KeepLast}: expected >= 1");
        Check(DModel >= 0 && NLayer >= 0, "--d-model and --n-layer must be >= 0");
    }
}
