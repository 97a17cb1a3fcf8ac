using MambaByte.Core.Checkpoints;
using MambaByte.Data;

namespace MambaByte.Train.Training;

/// <summary>The real services for a run: the resolved store (opened once), its sampler, eval bytes and model I/O.</summary>
public sealed class TrainingData : IDisposable
{
    readonly ByteStore store;
    readonly int context;

    public TrainingData(TrainOptions options)
    {
        context = options.Context;
        store = DatasetResolver.Resolve(options.Data, string.IsNullOrEmpty(options.CacheDir) ? null : options.CacheDir);
        if (!store.SplitNames.Contains(options.TrainSplit))
            throw new ArgumentException($"--data {options.Data}: no split '{options.TrainSplit}' (has {string.Join(", ", store.SplitNames)})");
    }

    /// <summary>The services; under MPI (<paramref name="parallel"/>) each rank draws its slice of the global batch.</summary>
    public TrainingServices Services(DataParallel? parallel = null) => new(
        CreateModel: ModelBuilder.FromOptions,
        SaveModel: (model, directory) => ModelCheckpoint.Save(model, directory, trainedContext: context),
        LoadModel: ModelCheckpoint.Load,
        OpenBatches: (options, state) => new SamplerBatches(store.Split(options.TrainSplit), options, state, DocumentStart.For(store.Manifest.Separator), parallel?.Rank ?? 0, parallel?.Size ?? 1),
        EvalDocuments: options => store.SplitNames.Contains(options.EvalSplit)
            ? [EvalBytes.Read(store.Split(options.EvalSplit), options.EvalBytes)]
            : null)
    {
        Parallel = parallel ?? DataParallel.Single,
    };

    public void Dispose() => store.Dispose();
}
