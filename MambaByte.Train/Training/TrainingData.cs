using MambaByte.Core.Checkpoints;
using MambaByte.Data;
using MambaByte.Train.Models;

namespace MambaByte.Train.Training;

/// <summary>The real services for a run: the resolved store (opened once), its sampler, eval bytes and model I/O.</summary>
public sealed class TrainingData : IDisposable
{
    readonly ByteStore store;

    public TrainingData(TrainOptions options)
    {
        store = DatasetResolver.Resolve(options.Data, string.IsNullOrEmpty(options.CacheDir) ? null : options.CacheDir);
        if (!store.SplitNames.Contains(options.TrainSplit))
            throw new ArgumentException($"--data {options.Data}: no split '{options.TrainSplit}' (has {string.Join(", ", store.SplitNames)})");
    }

    public TrainingServices Services() => new(
        CreateModel: ModelBuilder.FromOptions,
        SaveModel: ModelCheckpoint.Save,
        LoadModel: ModelCheckpoint.Load,
        OpenBatches: (options, state) => new SamplerBatches(store.Split(options.TrainSplit), options, state, DocumentStart.For(store.Manifest.Separator)),
        EvalDocuments: options => store.SplitNames.Contains(options.EvalSplit)
            ? [EvalBytes.Read(store.Split(options.EvalSplit), options.EvalBytes)]
            : null);

    public void Dispose() => store.Dispose();
}
