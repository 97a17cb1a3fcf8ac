using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>
/// The real batch stream over a store split, resumable from its state: random windows (<see cref="ByteWindowSampler"/>),
/// or with <c>--carry-state</c> one document stream per lane (<see cref="DocumentStreamSampler"/>, whose batches
/// carry the document-start resets).
/// </summary>
public sealed class SamplerBatches : ITrainingBatches
{
    readonly ByteWindowSampler? sampler;
    readonly DocumentStreamSampler? streams;

    /// <param name="startByte">The byte a document is read after from a zero state (<see cref="DocumentStart"/>); carried-state streams only.</param>
    public SamplerBatches(ByteSplit split, TrainOptions options, JsonObject? state, byte startByte = DocumentStart.Newline)
    {
        bool savedStreams = state?.ContainsKey(nameof(DocumentStreamState.LanePositions)) ?? false;
        if (state is not null && savedStreams != options.CarryState)
            throw new ArgumentException($"the checkpoint was trained {(savedStreams ? "with" : "without")} --carry-state; a resume must keep it");
        if (options.CarryState)
        {
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
        if (state is null)
        {
            sampler = new ByteWindowSampler(split, options.Context, options.BatchSize, unchecked((ulong)options.Seed));
            return;
        }
        SamplerState saved = state.Deserialize<SamplerState>()
            ?? throw new InvalidDataException("trainer_state.json: empty sampler state");
        if (saved.ContextLength != options.Context || saved.BatchSize != options.BatchSize)
            throw new ArgumentException($"the checkpoint was trained with --context {saved.ContextLength} --batch-size {saved.BatchSize}; a resume must keep them (got {options.Context}, {options.BatchSize})");
        sampler = ByteWindowSampler.FromState(split, saved);
    }

    public JsonObject State => streams is not null
        ? (JsonObject)JsonSerializer.SerializeToNode(streams.State)!
        : (JsonObject)JsonSerializer.SerializeToNode(sampler!.State)!;

    public TrainingBatch Next()
    {
        ByteBatch batch = streams?.Next() ?? sampler!.Next();
        return new TrainingBatch(batch.BatchSize, batch.Length, batch.Inputs, batch.Targets) { ResetBefore = batch.ResetBefore };
    }

    public void Dispose()
    {
        sampler?.Dispose();
        streams?.Dispose();
    }
}
