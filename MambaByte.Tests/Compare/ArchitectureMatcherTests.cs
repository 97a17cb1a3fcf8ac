using MambaByte.Core.Diagnostics;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train.Compare;
using MambaByte.Train.Models;
using MambaByte.Train.Training;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Compare;

public sealed class ArchitectureMatcherTests
{
    [Theory]
    [InlineData("2", "params")]
    [InlineData("2", "flops")]
    [InlineData("small", "params")]
    [InlineData("3", "flops")]
    public void Matched_baselines_are_within_ten_percent_of_Mamba_counted_from_the_built_models(string size, string match)
    {
        SingleThreadedTorch.Ensure();
        const int context = 128;
        IReadOnlyList<MatchedModel> models = ArchitectureMatcher.Match(["mamba", "transformer", "megabyte"], size, match, context, maxPosition: 1000);
        var measured = new List<(long Parameters, double Flops)>();
        foreach (MatchedModel m in models)
        {
            // Counted from the tensors of the model its config.json builds, not from the config's formula.
            using ByteLanguageModel model = ModelFactory.FromConfig(m.Config, "matched", seed: 0);
            Assert.Equal(m.Architecture, model.Architecture);
            Assert.Equal(model.parameters().Sum(p => p.numel()), m.Parameters);
            Assert.Equal(model.TrainingFlopsPerByte(context), m.TrainingFlopsPerByte);
            measured.Add((m.Parameters, m.TrainingFlopsPerByte));
        }
        foreach ((long parameters, double flops) in measured.Skip(1))
        {
            double ratio = match == "params" ? (double)parameters / measured[0].Parameters : flops / measured[0].Flops;
            Assert.InRange(ratio, 0.9, 1.1);
        }
        MambaConfig mamba = ArchitectureMatcher.MambaAtSize(size);
        Assert.Equal(mamba.ParameterCount, measured[0].Parameters);
        // MegaByte's learned patch positions reach the farthest position asked for, and no further than a patch beyond.
        int maxContext = models[2].Config["max_context"]!.GetValue<int>();
        Assert.InRange(maxContext, 1002, 1002 + 8);
    }

    [Fact]
    public void Integer_sizes_give_Mamba_d_model_64S_and_2S_layers_and_presets_keep_their_shape()
    {
        Assert.Equal((192, 6), (ArchitectureMatcher.MambaAtSize("3").DModel, ArchitectureMatcher.MambaAtSize("3").NLayer));
        Assert.Equal(MambaConfig.Small, ArchitectureMatcher.MambaAtSize("small"));
        Assert.Throws<ArgumentException>(() => ArchitectureMatcher.MambaAtSize("huge"));
        Assert.Throws<ArgumentException>(() => ArchitectureMatcher.MambaAtSize("0"));
    }

    [Fact]
    public void A_size_no_baseline_can_reach_is_refused_with_the_closest_ratio()
    {
        SingleThreadedTorch.Ensure();
        var e = Assert.Throws<ArgumentException>(() => ArchitectureMatcher.Match(["mamba", "transformer"], "tiny", "params", 64, 100));
        Assert.Contains("transformer", e.Message);
        Assert.Contains("within 10", e.Message);
    }

    [Fact]
    public void Search_lands_on_the_mlp_width_nearest_the_target_of_a_linear_cost()
    {
        // cost(size, mlp) = 1000·size² + 7·mlp, default mlp 20·size², target 4351. Size 1 brackets it with mlp 478/479
        // (errors 0.11%/0.05%, MLP 24× its default); size 2 with mlp 50/51 (0.02%/0.14%, MLP 0.63×/0.64× its default);
        // size 3 overshoots even at mlp 1; size 4's default (18 240) is over 4× the target, so the search stops there.
        // All four brackets are within 1%, so the least distorted MLP wins: size 2, mlp 51.
        (int Size, int Mlp) best = ArchitectureMatcher.Search(
            size => (Size: size, Mlp: 20 * size * size),
            (c, mlp) => (c.Size, mlp),
            c => c.Mlp,
            c => 1000.0 * c.Size * c.Size + 7.0 * c.Mlp,
            4351);
        Assert.Equal((2, 51), best);
    }

    [Fact]
    public void Steps_for_a_flops_budget_round_down_and_never_reach_zero()
    {
        Assert.Equal(100, ComparisonRunner.StepsForBudget(1e9, 1e5, 100));
        Assert.Equal(99, ComparisonRunner.StepsForBudget(1e9 - 1, 1e5, 100));
        Assert.Equal(1, ComparisonRunner.StepsForBudget(1, 1e5, 100));
    }

    [Fact]
    public void Median_of_step_times_ignores_one_stalled_step()
    {
        Assert.Equal(2.0, Spread.Of([1.0, 2.0, 50.0]).Median);
        Assert.Equal(2.5, Spread.Of([4.0, 1.0, 2.0, 3.0]).Median);
        Assert.Equal(0.5, new GenerationSpeedPoint(10, 3, 5.0, 2.0, 1).BytesPerSecond);
    }

    [Fact]
    public void Train_model_config_builds_that_exact_model_and_refuses_another_architecture()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string path = temp.File("config.json");
        var config = new TransformerConfig { DModel = 32, NLayer = 1, NHead = 2, DMlp = 40 };
        File.WriteAllText(path, config.ConfigJson().ToJsonString());
        using (ByteLanguageModel model = ModelBuilder.FromOptions(new TrainOptions { Arch = "transformer", ModelConfig = path, Seed = 1 }))
        {
            Assert.Equal("transformer", model.Architecture);
            Assert.Equal(config.ParameterCount(), model.ParameterCount);
            Assert.Equal(40, model.ConfigJson()["d_mlp"]!.GetValue<int>());
        }
        var e = Assert.Throws<ArgumentException>(() => ModelBuilder.FromOptions(new TrainOptions { Arch = "mamba", ModelConfig = path }));
        Assert.Contains("describes a transformer model", e.Message);
    }
}
