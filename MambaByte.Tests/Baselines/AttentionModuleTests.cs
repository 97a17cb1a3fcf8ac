using MambaByte.Core.Generation;
using MambaByte.Core.Modules.Attention;
using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Baselines;

public sealed class AttentionModuleTests
{
    /// <summary>
    /// The module (fused QKV, RoPE, scaled_dot_product_attention) against attention written out with scalar loops:
    /// per head, rotate each (c, c+hd/2) channel pair of q and k by pos·θ^(−2c/hd), softmax over keys j ≤ i of
    /// q·k/√hd, weight the values, then the output projection.
    /// </summary>
    [Fact]
    public void CausalSelfAttention_matches_scalar_loop_attention_with_rotary_positions()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        const int width = 8, heads = 2, headDim = 4, length = 5;
        const double theta = 10000.0;
        var attention = new CausalSelfAttention(width, heads, theta, dropout: 0.0);
        attention.to(float64);
        var generator = new Generator(5);
        using (no_grad())
            foreach (var (_, p) in attention.named_parameters()) p.normal_(0, 0.5, generator);
        Tensor x = randn([1, length, width], dtype: float64, generator: generator);
        Tensor actual = attention.Forward(x, null);

        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double[,] wqkv = ToMatrix(parameters["qkv_proj.weight"]), wout = ToMatrix(parameters["out_proj.weight"]);
        double[,] input = ToMatrix(x.select(0, 0));
        double[,] q = new double[length, width], k = new double[length, width], v = new double[length, width];
        for (int i = 0; i < length; i++)
            for (int o = 0; o < width; o++)
                for (int c = 0; c < width; c++)
                {
                    q[i, o] += wqkv[o, c] * input[i, c];
                    k[i, o] += wqkv[width + o, c] * input[i, c];
                    v[i, o] += wqkv[2 * width + o, c] * input[i, c];
                }
        void Rotate(double[,] m)
        {
            for (int i = 0; i < length; i++)
                for (int h = 0; h < heads; h++)
                    for (int c = 0; c < headDim / 2; c++)
                    {
                        double angle = i * Math.Pow(theta, -2.0 * c / headDim);
                        int a = h * headDim + c, b = h * headDim + c + headDim / 2;
                        (m[i, a], m[i, b]) = (m[i, a] * Math.Cos(angle) - m[i, b] * Math.Sin(angle), m[i, a] * Math.Sin(angle) + m[i, b] * Math.Cos(angle));
                    }
        }
        Rotate(q);
        Rotate(k);
        double[,] mixed = new double[length, width];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < length; i++)
            {
                var scores = new double[i + 1];
                for (int j = 0; j <= i; j++)
                {
                    for (int c = 0; c < headDim; c++) scores[j] += q[i, h * headDim + c] * k[j, h * headDim + c];
                    scores[j] /= Math.Sqrt(headDim);
                }
                double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
                for (int j = 0; j <= i; j++)
                    for (int c = 0; c < headDim; c++)
                        mixed[i, h * headDim + c] += Math.Exp(scores[j] - max) / total * v[j, h * headDim + c];
            }
        for (int i = 0; i < length; i++)
            for (int o = 0; o < width; o++)
            {
                double expected = 0;
                for (int c = 0; c < width; c++) expected += wout[o, c] * mixed[i, c];
                Assert.Equal(expected, actual[0, i, o].item<double>(), 1e-12);
            }
    }

    /// <summary>
    /// Values and gradients (input and both weight matrices) of the module against attention written with plain
    /// tensor ops: explicit cos/sin rotation, q·kᵀ/√hd with a −∞ upper triangle, softmax, values, projection.
    /// float64 tightly, float32 loosely.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float64, 1e-10)]
    [InlineData(ScalarType.Float32, 2e-5)]
    public void CausalSelfAttention_values_and_gradients_match_plain_softmax_attention(ScalarType dtype, double tolerance)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        const int width = 12, heads = 3, headDim = 4, length = 7, batch = 2;
        var attention = new CausalSelfAttention(width, heads, 10000.0, dropout: 0.0);
        attention.to(dtype);
        var generator = new Generator(9);
        using (no_grad())
            foreach (var (_, p) in attention.named_parameters()) p.copy_(randn(p.shape, dtype: float64, generator: generator) * 0.4);
        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Tensor wqkv = parameters["qkv_proj.weight"], wout = parameters["out_proj.weight"];
        Tensor x = randn([batch, length, width], dtype: float64, generator: generator).to_type(dtype).requires_grad_();
        Tensor upstream = randn([batch, length, width], dtype: float64, generator: generator).to_type(dtype);

        Tensor actual = attention.Forward(x, null);
        var actualGrads = autograd.grad([(actual * upstream).sum()], [x, wqkv, wout]);

        Tensor refWqkv = wqkv.detach().clone().requires_grad_(), refWout = wout.detach().clone().requires_grad_();
        Tensor refX = x.detach().clone().requires_grad_();
        Tensor qkv = matmul(refX, refWqkv.t());                                                          // (b, l, 3w)
        Tensor Heads(Tensor t) => t.view(batch, length, heads, headDim).transpose(1, 2);                // (b, h, l, hd)
        Tensor q = Heads(qkv.narrow(-1, 0, width)), k = Heads(qkv.narrow(-1, width, width)), v = Heads(qkv.narrow(-1, 2 * width, width));
        double[] angles = new double[length * headDim / 2];
        for (int i = 0; i < length; i++)
            for (int c = 0; c < headDim / 2; c++) angles[i * headDim / 2 + c] = i * Math.Pow(10000.0, -2.0 * c / headDim);
        Tensor angle = tensor(angles, dtype: float64).view(length, headDim / 2);
        Tensor cos = cat([angle.cos(), angle.cos()], -1).to_type(dtype), sin = cat([angle.sin(), angle.sin()], -1).to_type(dtype);
        Tensor RotateHalf(Tensor t) => cat([-t.narrow(-1, headDim / 2, headDim / 2), t.narrow(-1, 0, headDim / 2)], -1);
        q = q * cos + RotateHalf(q) * sin;
        k = k * cos + RotateHalf(k) * sin;
        Tensor scores = matmul(q, k.transpose(-1, -2)) / Math.Sqrt(headDim);                             // (b, h, l, l)
        Tensor future = ones([length, length], dtype: ScalarType.Bool).triu(1);
        Tensor weights = scores.masked_fill(future, double.NegativeInfinity).softmax(-1);
        Tensor mixed = matmul(weights, v).transpose(1, 2).reshape(batch, length, width);                 // (b, l, w)
        Tensor expected = matmul(mixed, refWout.t());
        var expectedGrads = autograd.grad([(expected * upstream).sum()], [refX, refWqkv, refWout]);

        Assert.True(BaselineFixtures.MaxAbsDifference(actual, expected) < tolerance);
        for (int i = 0; i < 3; i++)
        {
            double scale = Math.Max(1.0, expectedGrads[i].abs().max().to_type(float64).item<double>());
            Assert.True(BaselineFixtures.MaxAbsDifference(actualGrads[i], expectedGrads[i]) < tolerance * scale, $"gradient {i}");
            Assert.True(expectedGrads[i].abs().max().to_type(float64).item<double>() > 1e-3);
        }
    }

    [Fact]
    public void Rotary_embedding_makes_query_key_products_depend_only_on_the_offset()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        Tensor q = randn([1, 1, 1, 8], dtype: float64, generator: generator), k = randn([1, 1, 1, 8], dtype: float64, generator: generator);
        double Product(long queryPosition, long keyPosition)
        {
            var (qc, qs) = RotaryEmbedding.Angles(queryPosition, 1, 8, 10000.0, CPU, float64);
            var (kc, ks) = RotaryEmbedding.Angles(keyPosition, 1, 8, 10000.0, CPU, float64);
            return (RotaryEmbedding.Apply(q, qc, qs) * RotaryEmbedding.Apply(k, kc, ks)).sum().item<double>();
        }
        Assert.Equal(Product(7, 4), Product(1003, 1000), 1e-10);
        Assert.Equal(Product(3, 3), (q * k).sum().item<double>(), 1e-12);          // offset 0: no rotation left
        Assert.NotEqual(Product(3, 3), Product(5, 3), 3);
        var (cos, sin) = RotaryEmbedding.Angles(0, 9, 8, 10000.0, CPU, float64);
        Assert.Equal(q.norm().item<double>(), RotaryEmbedding.Apply(q.expand(1, 1, 9, 8), cos, sin).select(2, 8).norm().item<double>(), 1e-12);
    }

    [Fact]
    public void KvCache_grows_past_its_capacity_and_keeps_earlier_entries()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var cache = new KvCache();
        var all = new List<Tensor>();
        for (int step = 0; step < 40; step++)            // initial capacity 16: grows twice
        {
            Tensor entry = full([2, 1, 1, 3], (double)step, dtype: float64);
            all.Add(entry);
            var (keys, values) = cache.Append(entry, -entry);
            Assert.Equal(step + 1, keys.shape[2]);
            Assert.Equal(0.0, MaxAbs(keys, cat(all, 2)));
            Assert.Equal(0.0, MaxAbs(values, -cat(all, 2)));
        }
        cache.Clear();
        Assert.Equal(0, cache.Length);
        Assert.Equal(7.0, cache.Append(full([2, 1, 1, 3], 7.0, dtype: float64), zeros([2, 1, 1, 3], dtype: float64)).Keys.sum().item<double>() / 6);
    }

    private static double MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<double>();

    private static double[,] ToMatrix(Tensor t)
    {
        double[] flat = t.contiguous().data<double>().ToArray();
        long rows = t.shape[0], cols = t.shape[1];
        var m = new double[rows, cols];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) m[r, c] = flat[r * cols + c];
        return m;
    }
}
