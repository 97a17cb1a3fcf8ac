using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>The real batch stream: a <see cref="ByteWindowSampler"/> over a store split, resumable from its <see cref="SamplerState"/>.</summary>
public sealed class SamplerBatches : ITrainingBatches
{
    readonly ByteWindowSampler sampler;

    public SamplerBatches(ByteSplit split, TrainOptions options, JsonObject? state)
    {
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

    public JsonObject State => (JsonObject)JsonSerializer.SerializeToNode(sampler.State)!;

    public TrainingBatch Next()
    {
        ByteBatch batch = sampler.Next();
        return new TrainingBatch(batch.BatchSize, batch.Length, batch.Inputs, batch.Targets);
    }

    public void Dispose() => sampler.Dispose();
}
