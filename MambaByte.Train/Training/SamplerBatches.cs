using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>
/// The real batch stream: a <see cref="ByteWindowSampler"/> over a store split, resumable from its <see cref="SamplerState"/>.
/// Under MPI with R ranks the sampler draws the global batch of R × --batch-size rows that one process with that
/// batch size would draw (batch k is a pure function of (seed, k)), and rank r keeps rows r·b … (r+1)·b − 1, so the
/// ranks' slices are disjoint and together are exactly the one-process batch.
/// </summary>
public sealed class SamplerBatches : ITrainingBatches
{
    const string RanksKey = "Ranks";

    readonly ByteWindowSampler sampler;
    readonly int rank, ranks, rows;

    public SamplerBatches(ByteSplit split, TrainOptions options, JsonObject? state, int rank = 0, int ranks = 1)
    {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentException($"rank {rank} of {ranks}: not a valid rank");
        this.rank = rank;
        this.ranks = ranks;
        rows = options.BatchSize;
        int global = checked(options.BatchSize * ranks);
        if (state is null)
        {
            sampler = new ByteWindowSampler(split, options.Context, global, unchecked((ulong)options.Seed));
            return;
        }
        int savedRanks = state[RanksKey]?.GetValue<int>() ?? 1;
        if (savedRanks != ranks)
            throw new ArgumentException($"the checkpoint was trained on {savedRanks} rank(s) (mpiexec -n {savedRanks}); resume it with the same number of ranks (got {ranks}), so the global batch and every later step are the same");
        SamplerState saved = state.Deserialize<SamplerState>()
            ?? throw new InvalidDataException("trainer_state.json: empty sampler state");
        if (saved.ContextLength != options.Context || saved.BatchSize != global)
            throw new ArgumentException($"the checkpoint was trained with --context {saved.ContextLength} --batch-size {saved.BatchSize / ranks}; a resume must keep them (got {options.Context}, {options.BatchSize})");
        sampler = ByteWindowSampler.FromState(split, saved);
    }

    public JsonObject State
    {
        get
        {
            var state = (JsonObject)JsonSerializer.SerializeToNode(sampler.State)!;
            if (ranks > 1) state[RanksKey] = ranks;
            return state;
        }
    }

    public TrainingBatch Next()
    {
        ByteBatch batch = sampler.Next();
        if (ranks == 1) return new TrainingBatch(batch.BatchSize, batch.Length, batch.Inputs, batch.Targets);
        int bytes = rows * batch.Length;
        return new TrainingBatch(rows, batch.Length,
            batch.Inputs.AsSpan(rank * bytes, bytes).ToArray(), batch.Targets.AsSpan(rank * bytes, bytes).ToArray());
    }

    public void Dispose() => sampler.Dispose();
}
