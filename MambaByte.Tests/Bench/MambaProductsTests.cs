using MambaByte.Core.Architectures.Mamba;
using MambaByte.Train.Bench;
using static TorchSharp.torch;

namespace MambaByte.Tests.Bench;

public sealed class MambaProductsTests
{
    /// <summary>
    /// The products' FLOPs are the matrix-product terms of Mamba's FLOP count, written out by hand (README, "FLOPs"):
    /// per layer in_proj 2·d·2e, x_proj 2·e·(r + 2n), dt_proj 2·r·e, out_proj 2·e·d, then the head 2·d·V. So the chain
    /// holds every product of the model and no other, for the bench plans' shapes and an odd one.
    /// </summary>
    [Theory]
    [InlineData(96, 1, false)]
    [InlineData(512, 2, false)]
    [InlineData(256, 8, false)]
    [InlineData(40, 3, true)]
    public void Products_flops_are_the_matrix_terms_of_the_models_count(int dModel, int layers, bool bias)
    {
        var config = new MambaConfig { DModel = dModel, NLayer = layers, Bias = bias };
        using var products = new MambaProducts(config, float32, CPU, seed: 3);
        double d = dModel, e = 2 * d, r = Math.Ceiling(d / 16), n = 16, v = config.PaddedVocabSize;
        double byHand = layers * (2 * d * 2 * e + 2 * e * (r + 2 * n) + 2 * r * e + 2 * e * d) + 2 * d * v;
        Assert.Equal(byHand, products.ForwardFlopsPerByte);
    }

    /// <summary>One step sends a gradient into every weight and bias of the chain, in either dtype; a second step starts from zero gradients.</summary>
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void A_step_reaches_every_weight_and_does_not_accumulate(ScalarType dtype)
    {
        var config = new MambaConfig { DModel = 32, NLayer = 2, Bias = true };
        using var products = new MambaProducts(config, dtype, CPU, seed: 5);
        using var gen = new Generator(7);
        Tensor x = randn([1, 10, 32], generator: gen).to_type(dtype);
        Tensor target = randint(0, 256, [1, 10], dtype: int64, generator: gen);
        products.Step(x, target);
        Tensor[] grads = products.Parameters.Select(p => p.grad!.to_type(float32).clone()).ToArray();
        Assert.Equal(2 * 4 + 1 + 2 * 3, grads.Length);                     // 4 weights and 3 biases a layer, the head
        foreach (Tensor g in grads) Assert.True(g.abs().sum().item<float>() > 0);
        products.Step(x, target);
        Tensor[] again = products.Parameters.Select(p => p.grad!.to_type(float32)).ToArray();
        for (int i = 0; i < grads.Length; i++) Assert.True(again[i].allclose(grads[i], rtol: 0, atol: 0), $"parameter {i}: the second step's gradient differs");
    }
}
