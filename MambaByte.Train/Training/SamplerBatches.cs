using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>
/// The real batch stream over a store split, resumable from its state: random windows (<see cref="ByteWindowSampler"/>),
/// or with <c>--carry-state</c> one document stream per lane (<see cref="DocumentStreamSampler"/>, whose batches
/// carry the document-start resets). Under MPI with R ranks the window sampler draws the global batch of
/// R × --batch-size rows that one process with that batch size would draw (batch k is a pure function of (seed, k)),
/// and rank r keeps rows r·b … (r+1)·b − 1, so the ranks' slices are disjoint and together are exactly the
/// one-process batch. Carried-state streams run in one process only.
/// </summary>
public sealed class SamplerBatches : ITrainingBatches
{
    const string RanksKey = "Ranks";

    readonly ByteWindowSampler? sampler;
    readonly DocumentStreamSampler? streams;
    readonly int rank, ranks, rows;

    /// <param name="startByte">The byte a document is read after from a zero state (<see cref="DocumentStart"/>); carried-state streams only.</param>
    public SamplerBatches(ByteSplit split, TrainOptions options, JsonObject? state, byte startByte = DocumentStart.Newline, int rank = 0, int ranks = 1)
    {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentException($"rank {rank} of {ranks}: not a valid rank");
        this.rank = rank;
        this.ranks = ranks;
        rows = options.BatchSize;
        bool savedStreams = state?.ContainsKey(nameof(DocumentStreamState.LanePositions)) ?? false;
        if (state is not null && savedStreams != options.CarryState)
            throw new ArgumentException($"the checkpoint was trained {(savedStreams ? "with" : "without")} --carry-state; a resume must keep it");
        if (options.CarryState)
        {
            if (ranks > 1)
                throw new ArgumentException($"--carry-state runs in one process: its lanes' document streams are not split across MPI ranks (got {ranks} ranks)");
            if (state is null)
            {
                streams = new DocumentStreamSampler(split, options.Context, options.BpttWindows, options.BatchSize, startByte);
                return;
            }
            DocumentStreamState savedState = state.Deserialize<DocumentStreamState>()
                ?? throw new InvalidDataException("trainer_state.json: empty sampler state");
            if (savedState.ContextLength != options.Context || savedState.BatchSize != options.BatchSize || savedState.Windows != options.BpttWindows)
                throw new ArgumentException($"the checkpoint was trained with --context {savedState.ContextLength} --batch-size {savedState.BatchSize} --bptt-windows {savedState.Windows}; a resume must keep them (got {options.Context}, {options.BatchSize}, {options.BpttWindows})");
            streams = DocumentStreamSampler.FromState(split, savedState);
            return;
        }
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
            if (streams is not null) return (JsonObject)JsonSerializer.SerializeToNode(streams.State)!;
            var state = (JsonObject)JsonSerializer.SerializeToNode(sampler!.State)!;
            if (ranks > 1) state[RanksKey] = ranks;
            return state;
        }
    }

    public TrainingBatch Next()
    {
        if (streams is not null)
        {
            ByteBatch lanes = streams.Next();
            return new TrainingBatch(lanes.BatchSize, lanes.Length, lanes.Inputs, lanes.Targets) { ResetBefore = lanes.ResetBefore };
        }
        ByteBatch batch = sampler!.Next();
        if (ranks == 1) return new TrainingBatch(batch.BatchSize, batch.Length, batch.Inputs, batch.Targets);
        int bytes = rows * batch.Length;
        return new TrainingBatch(rows, batch.Length,
            batch.Inputs.AsSpan(rank * bytes, bytes).ToArray(), batch.Targets.AsSpan(rank * bytes, bytes).ToArray());
    }

    public void Dispose()
    {
        sampler?.Dispose();
        streams?.Dispose();
    }
}
