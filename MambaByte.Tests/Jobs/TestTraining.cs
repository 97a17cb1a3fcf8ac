using System.Text;
using MambaByte.Train.Training;

namespace MambaByte.Tests.Jobs;

/// <summary>Shared set-up for trainer tests: tiny options, the test model and an in-memory corpus.</summary>
internal static class TestTraining
{
    public static readonly byte[] Corpus = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(
        "In the beginning God created the heaven and the earth. And the earth was without form, and void. ", 6)));

    public static TrainOptions Options(string outDirectory) => new()
    {
        Arch = "mamba", Out = outDirectory, Device = "cpu", Context = 16, BatchSize = 2, GradAccum = 2,
        Lr = 1e-2, WarmupSteps = 2, MaxSteps = 6, LogEvery = 1, EvalEvery = 3, EvalBytes = 0,
        CheckpointEvery = 0, KeepLast = 2, Tensorboard = false, Seed = 7,
    };

    public static TrainingServices Services(Action<RecurrentTestModel>? configure = null) => new(
        CreateModel: _ =>
        {
            var model = new RecurrentTestModel(8);
            configure?.Invoke(model);
            return model;
        },
        SaveModel: (model, dir) => ((RecurrentTestModel)model).Save(dir),
        LoadModel: (dir, device) =>
        {
            RecurrentTestModel model = RecurrentTestModel.Load(dir, device);
            configure?.Invoke(model);
            return model;
        },
        OpenBatches: (options, state) => MemoryBatches.Open(Corpus, options, state),
        EvalDocuments: _ => [Corpus.AsMemory(0, 200)]);
}
