using MambaByte.Core.Diagnostics;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Train.Bench;

/// <summary>
/// What the bench measures and how often. <see cref="Full"/> is the plan; <see cref="Quick"/> keeps every
/// section and field at small sizes so it runs in seconds (for tests and a smoke check).
/// </summary>
public sealed record BenchPlan
{
    public required bool IsQuick { get; init; }

    public required int MatmulSize { get; init; }
    public int MatmulWarmup { get; init; } = 2;
    public int MatmulRepeats { get; init; } = 10;

    public required int ScanBatch { get; init; }
    public required int ScanChannels { get; init; }
    public required int ScanStates { get; init; }
    public required int[] ScanLengths { get; init; }

    /// <summary>
    /// Warm-up and timed runs per (kind, length); null skips the pair. The slow kinds run fewer times at long lengths:
    /// Reference builds l steps of autograd graph, and Parallel on CPU makes log₂l passes over (b, d, l, n) tensors
    /// (about 20 s forward and 9 GiB at length 2048, so 8192 would not fit this machine's memory).
    /// </summary>
    public required Func<string, int, (int Warmup, int Repeats)?> ScanRuns { get; init; }

    public required int[] TrainingContexts { get; init; }
    /// <summary>
    /// Warm-up steps per training entry, then timed rounds (every entry once per round). The warm-up goes through
    /// <c>Stopwatches.TimeMs(step, TrainingWarmup, 1, …)</c>, whose one timed step is discarded, so each entry runs
    /// TrainingWarmup + 1 untimed steps. The full plan takes 2 and 5:
    /// with 3 rounds on the shared VM one slow round in three set a median (the Mamba fp32 step at 1024 ran
    /// 387–690 ms in one run, its products alone 162–666 ms), and the PASS/MISS of a target near its threshold flipped
    /// between two runs of one build; a median of 5 stands two slow rounds. About 80 s more than 1 + 3.
    /// </summary>
    public int TrainingWarmup { get; init; } = 1;
    public int TrainingRepeats { get; init; } = 3;

    /// <summary>Training runs in each of these: float32, and bf16 mixed precision (fp32 masters, bf16 matrix products).</summary>
    public string[] TrainingDtypes { get; init; } = ["float32", "bfloat16"];

    /// <summary>A second, deeper set of equal-parameter models (null: none).</summary>
    public BenchModelSet? Medium { get; init; }

    /// <summary>Mamba mixers timed forward+backward, fused against tensor ops: (d_model, context), batch 1.</summary>
    public required (int DModel, int Context)[] MixerCases { get; init; }

    /// <summary>
    /// The mixer section's warm-up per case (<see cref="Stopwatches.WarmUp"/>): the three passes alternated for at least
    /// <see cref="MixerWarmupRounds"/> rounds and <see cref="MixerWarmupMs"/>, then until <see cref="MixerSettledRounds"/>
    /// rounds or <see cref="MixerWarmupMaxMs"/>. Five rounds alone left the first case (d_model 96, a few ms a pass)
    /// timing tier-0 code: on the AMX Xeon, with 5 warm-up rounds against 60 (7 timed rounds each, three processes each),
    /// the fused mixer's median was 7.3, 9.2 and 3.5 ms against 2.5, 6.3 and 2.9 ms.
    /// </summary>
    public int MixerWarmupRounds { get; init; } = 5;
    public int MixerSettledRounds { get; init; } = 60;
    public double MixerWarmupMs { get; init; } = 1500;
    public double MixerWarmupMaxMs { get; init; } = 4000;

    /// <summary>Timed rounds per mixer case: as many as fit in <see cref="MixerBudgetMs"/> at the warm-up's last round, within [<see cref="MixerRounds"/>, <see cref="MixerMaxRounds"/>].</summary>
    public int MixerRounds { get; init; } = 7;
    public int MixerMaxRounds { get; init; } = 41;
    public double MixerBudgetMs { get; init; } = 3000;

    public required long[] GenerationPositions { get; init; }
    public int GenerationWarmupBytes { get; init; } = 8;

    /// <summary>Bytes per timed round: a multiple of MegaByte's patch so every round holds the same number of global steps.</summary>
    public int GenerationRoundBytes { get; init; } = 16;
    public int GenerationRounds { get; init; } = 9;

    /// <summary>
    /// Mamba shapes for the decoding section (issue 18): d_model 256 × 4 layers and the mamba-130m shape 768 × 24,
    /// each at batch 1 (fp32 fused, int8 fused, fp32 reference) and at <see cref="DecodingBatches"/> (fp32 fused);
    /// prompt processing of <see cref="PromptBytes"/> bytes at the first shape.
    /// </summary>
    public MambaConfig[] DecodingShapes { get; init; } = [new() { DModel = 256, NLayer = 4 }, new() { DModel = 768, NLayer = 24 }];
    public int[] DecodingBatches { get; init; } = [1, 4, 16];
    /// <summary>Fewest steps in a timed decoding round.</summary>
    public int DecodingRoundBytes { get; init; } = 8;

    /// <summary>
    /// Shortest timed decoding round: a configuration runs at least this long (more steps than
    /// <see cref="DecodingRoundBytes"/> where its step is fast) so that each round measures steady generation, not
    /// the first steps after the other configurations had the caches. At d_model 256 × 4 (0.2 ms a step) rounds of
    /// 8 steps made the fp32 step 2–3× slower in the bench (0.40–0.49 ms median) than in a steady loop (0.17–0.18
    /// ms); in a harness alternating three models, 8-step rounds gave 3,779 bytes/s median against 5,044 for 64.
    /// </summary>
    public double DecodingRoundMs { get; init; } = 100;
    public int DecodingRounds { get; init; } = 5;
    public int PromptBytes { get; init; } = 4096;
    public int PromptRounds { get; init; } = 3;

    /// <summary>
    /// Speculative decoding (issue 18): a target and a draft of about a tenth of its parameters, greedy, plain against
    /// K = <see cref="SpeculativeDraftBytes"/> with both restore strategies, runs of <see cref="SpeculativeBytes"/>
    /// bytes alternated <see cref="SpeculativeRounds"/> times. The shapes are built untrained unless
    /// <see cref="SpeculativeCheckpoints"/> names trained models (the acceptance target needs those).
    /// </summary>
    public MambaConfig SpeculativeTarget { get; init; } = new() { DModel = 256, NLayer = 4 };
    public MambaConfig SpeculativeDraft { get; init; } = new() { DModel = 96, NLayer = 2 };
    public int[] SpeculativeDraftBytes { get; init; } = [2, 4, 8];
    public int SpeculativeBytes { get; init; } = 2000;
    public int SpeculativeRounds { get; init; } = 3;

    /// <summary>Target and draft checkpoint directories (bench --speculative-target/--speculative-draft), or null for untrained shapes.</summary>
    public (string Target, string Draft)? SpeculativeCheckpoints { get; init; }

    public static string ShapeName(MambaConfig c) => $"{c.DModel}x{c.NLayer}";

    public required MambaConfig Mamba { get; init; }
    public required TransformerConfig Transformer { get; init; }
    public required MegaByteConfig MegaByte { get; init; }

    /// <summary>The main equal-parameter set at <see cref="TrainingContexts"/>.</summary>
    public BenchModelSet Equal => new("equal", Mamba, Transformer, MegaByte, TrainingContexts);

    /// <summary>Every set the training section measures: the equal set, then the medium one.</summary>
    public IEnumerable<BenchModelSet> ModelSets => Medium is null ? [Equal] : [Equal, Medium];

    /// <summary>
    /// The sizes. Models of equal parameters (within 10%): Mamba d_model 512 × 2 layers (3.52M),
    /// Transformer d_model 384 × 2 layers, 6 heads (3.64M), MegaByte global 256 × 2 layers, local 256 × 2 layers (3.58M).
    /// </summary>
    public static BenchPlan Full => new()
    {
        IsQuick = false,
        MatmulSize = 2048,
        ScanBatch = 2, ScanChannels = 1024, ScanStates = 16, ScanLengths = [512, 2048, 8192],
        ScanRuns = (kind, length) => (kind, length) switch
        {
            ("Reference", >= 8192) => (0, 1),
            ("Reference", >= 2048) => (0, 2),
            ("Parallel", >= 8192) => null,
            ("Parallel", >= 2048) => (0, 1),
            ("Parallel", _) => (0, 3),
            _ => (1, 5),
        },
        TrainingContexts = [1024, 4096, 8192], TrainingWarmup = 2, TrainingRepeats = 5,
        Medium = new BenchModelSet("medium",
            new MambaConfig { DModel = 256, NLayer = 8 },
            new TransformerConfig { DModel = 192, NLayer = 8, NHead = 3 },
            new MegaByteConfig { DGlobal = 256, NGlobalLayer = 4, NGlobalHead = 4, DLocal = 128, NLocalLayer = 2, NLocalHead = 2, MaxContext = 8192 },
            [1024]),
        MixerCases = [(96, 64), (96, 128), (96, 256), (512, 1024)],
        GenerationPositions = [100, 1000, 8000],
        Mamba = new MambaConfig { DModel = 512, NLayer = 2 },
        Transformer = new TransformerConfig { DModel = 384, NLayer = 2, NHead = 6 },
        MegaByte = new MegaByteConfig { DGlobal = 256, NGlobalLayer = 2, NGlobalHead = 4, DLocal = 256, NLocalLayer = 2, NLocalHead = 4, MaxContext = 8192 },
    };

    /// <summary>Every section at small sizes (models of about 90K parameters, within 10% of each other).</summary>
    public static BenchPlan Quick => new()
    {
        IsQuick = true,
        MatmulSize = 1024, MatmulWarmup = 1, MatmulRepeats = 3,
        ScanBatch = 2, ScanChannels = 128, ScanStates = 16, ScanLengths = [128, 256, 512], ScanRuns = (_, _) => (1, 3),
        TrainingContexts = [64, 128, 256], TrainingRepeats = 2,
        MixerCases = [(96, 64), (96, 128), (96, 256)],
        MixerWarmupMs = 200, MixerWarmupMaxMs = 600, MixerRounds = 5, MixerMaxRounds = 15, MixerBudgetMs = 300,
        GenerationPositions = [10, 50, 200], GenerationRounds = 3,
        DecodingShapes = [new() { DModel = 64, NLayer = 2 }, new() { DModel = 128, NLayer = 2 }], DecodingBatches = [1, 4],
        DecodingRoundBytes = 4, DecodingRoundMs = 5, DecodingRounds = 2, PromptBytes = 256, PromptRounds = 2,
        SpeculativeTarget = new() { DModel = 64, NLayer = 2 }, SpeculativeDraft = new() { DModel = 24, NLayer = 1 }, SpeculativeBytes = 64, SpeculativeRounds = 1,
        Mamba = new MambaConfig { DModel = 96, NLayer = 1 },
        Transformer = new TransformerConfig { DModel = 48, NLayer = 3, NHead = 2 },
        MegaByte = new MegaByteConfig { DGlobal = 48, NGlobalLayer = 2, NGlobalHead = 1, DLocal = 32, NLocalLayer = 1, NLocalHead = 1, MaxContext = 512 },
    };
}
