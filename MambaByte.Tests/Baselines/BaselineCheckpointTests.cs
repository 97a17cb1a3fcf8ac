using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Tests.Support;
using static TorchSharp.torch;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Baselines;

public sealed class BaselineCheckpointTests
{
    public static TheoryData<string> Architectures => ["transformer-tied", "transformer-untied", "megabyte"];

    private static ByteLanguageModel Build(string which) => which switch
    {
        "transformer-tied" => new ByteTransformer(TransformerConfig.Tiny, seed: 21),
        "transformer-untied" => new ByteTransformer(TransformerConfig.Tiny with { TieEmbeddings = false }, seed: 21),
        _ => new MegaByteModel(MegaByteConfig.Tiny, seed: 21),
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Baseline_checkpoint_round_trip_restores_config_weights_and_logits(string which)
    {
        TorchRuntime.EnsureLoaded();
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using ByteLanguageModel model = Build(which);
        Tensor bytes = BaselineFixtures.RandomBytes(2, 13, seed: 6);
        Tensor expected = model.forward(bytes);

        ModelCheckpoint.Save(model, dir.Path);
        using ByteLanguageModel loaded = ModelCheckpoint.Load(dir.Path, CPU);
        Assert.Equal(model.GetType(), loaded.GetType());
        Assert.Equal(model.ConfigJson().ToJsonString(), loaded.ConfigJson().ToJsonString());
        Assert.Equal(model.ParameterCount, loaded.ParameterCount);
        Assert.Equal(0.0, BaselineFixtures.MaxAbsDifference(expected, loaded.forward(bytes)));

        // A freshly built model from the same config.json with another seed differs until the weights are loaded.
        using ByteLanguageModel fresh = ModelFactory.FromConfigFile(dir.File("config.json"), seed: 99);
        Assert.Equal(model.GetType(), fresh.GetType());
        Assert.True(BaselineFixtures.MaxAbsDifference(expected, fresh.forward(bytes)) > 1e-4);
    }

    [Fact]
    public void Factory_builds_each_baseline_from_its_config_with_the_given_seed()
    {
        TorchRuntime.EnsureLoaded();
        using ByteLanguageModel transformer = ModelFactory.FromConfig(TransformerConfig.Tiny.ConfigJson(), "t.json", seed: 5);
        using ByteLanguageModel megabyte = ModelFactory.FromConfig(MegaByteConfig.Tiny.ConfigJson(), "m.json", seed: 5);
        Assert.Equal("transformer", transformer.Architecture);
        Assert.Equal("megabyte", megabyte.Architecture);
        Assert.Equal(TransformerConfig.Tiny.ParameterCount(), transformer.ParameterCount);
        Assert.Equal(MegaByteConfig.Tiny.ParameterCount(), megabyte.ParameterCount);
        using ByteLanguageModel same = ModelFactory.FromConfig(TransformerConfig.Tiny.ConfigJson(), "t.json", seed: 5);
        using ByteLanguageModel other = ModelFactory.FromConfig(TransformerConfig.Tiny.ConfigJson(), "t.json", seed: 6);
        Tensor first = transformer.parameters().First();
        Assert.True(first.allclose(same.parameters().First(), rtol: 0, atol: 0));
        Assert.False(first.allclose(other.parameters().First(), rtol: 0, atol: 0));
        var bad = MegaByteConfig.Tiny.ConfigJson();
        bad["patch_size"] = 0;
        Assert.StartsWith("m.json: 'patch_size' must be positive", Assert.Throws<InvalidDataException>(() => ModelFactory.FromConfig(bad, "m.json")).Message);
    }
}
