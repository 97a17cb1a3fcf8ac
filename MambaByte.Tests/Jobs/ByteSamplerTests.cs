using MambaByte.Core.Generation;

namespace MambaByte.Tests.Jobs;

public sealed class ByteSamplerTests
{
    static float[] Logits(params (int Byte, float Logit)[] entries)
    {
        var logits = Enumerable.Repeat(-30f, 256).ToArray();
        foreach ((int b, float l) in entries) logits[b] = l;
        return logits;
    }

    [Fact]
    public void Temperature_zero_top_k_one_and_a_tiny_top_p_all_pick_the_argmax()
    {
        float[] logits = Logits((10, 1.0f), (20, 2.5f), (30, 2.4f));
        Assert.Equal(20, new ByteSampler(new SamplingOptions(Temperature: 0)).Next(logits));
        Assert.Equal(20, new ByteSampler(new SamplingOptions(Temperature: 5, TopK: 1, Seed: 9)).Next(logits));
        Assert.Equal(20, new ByteSampler(new SamplingOptions(Temperature: 5, TopP: 1e-6, Seed: 9)).Next(logits));
    }

    [Fact]
    public void Samples_follow_the_tempered_top_k_top_p_distribution()
    {
        float[] logits = Logits((65, 2.0f), (66, 1.0f), (67, 0.0f), (68, -1.0f));
        const int draws = 40_000;

        // Temperature 2 over four candidates: p ∝ exp(l / 2).
        double[] expected = [Math.Exp(1.0), Math.Exp(0.5), 1.0, Math.Exp(-0.5)];
        double sum = expected.Sum() + 252 * Math.Exp(-15);
        var counts = new int[256];
        var sampler = new ByteSampler(new SamplingOptions(Temperature: 2, Seed: 11));
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits)]++;
        for (int k = 0; k < 4; k++) Assert.InRange(counts[65 + k] / (double)draws, expected[k] / sum - 0.01, expected[k] / sum + 0.01);

        // Top-k 2 renormalises over the two best: exp(1) : exp(0.5).
        counts = new int[256];
        sampler = new ByteSampler(new SamplingOptions(Temperature: 2, TopK: 2, Seed: 12));
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits)]++;
        double pA = Math.Exp(1.0) / (Math.Exp(1.0) + Math.Exp(0.5));
        Assert.InRange(counts[65] / (double)draws, pA - 0.01, pA + 0.01);
        Assert.Equal(draws, counts[65] + counts[66]);

        // Top-p 0.8 at temperature 1: p = [0.644, 0.237, 0.087, ...]; the nucleus is {A, B} (0.881 >= 0.8).
        counts = new int[256];
        sampler = new ByteSampler(new SamplingOptions(Temperature: 1, TopP: 0.8, Seed: 13));
        for (int i = 0; i < draws; i++) counts[sampler.Next(logits)]++;
        Assert.Equal(draws, counts[65] + counts[66]);
        double pTop = Math.E / (Math.E + 1);
        Assert.InRange(counts[65] / (double)draws, pTop - 0.01, pTop + 0.01);
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes_and_another_seed_different_ones()
    {
        float[] logits = Enumerable.Range(0, 256).Select(i => (float)Math.Sin(i)).ToArray();
        byte[] Draw(ulong seed)
        {
            var sampler = new ByteSampler(new SamplingOptions(Temperature: 1, Seed: seed));
            return Enumerable.Range(0, 64).Select(_ => sampler.Next(logits)).ToArray();
        }
        Assert.Equal(Draw(5), Draw(5));
        Assert.NotEqual(Draw(5), Draw(6));
    }

    [Fact]
    public void Bad_sampling_options_are_rejected_with_the_option_name()
    {
        Assert.Contains("--temperature", Assert.Throws<ArgumentException>(() => new ByteSampler(new SamplingOptions(Temperature: -1))).Message);
        Assert.Contains("--top-k", Assert.Throws<ArgumentException>(() => new ByteSampler(new SamplingOptions(TopK: 300))).Message);
        Assert.Contains("--top-p", Assert.Throws<ArgumentException>(() => new ByteSampler(new SamplingOptions(TopP: 0))).Message);
    }
}
