using MambaByte.Core.Native;
using MambaByte.Tests.Support;
using static MambaByte.Tests.Ops.ScanTestInputs;
using static TorchSharp.torch;

namespace MambaByte.Tests.Foundation;

/// <summary>
/// <see cref="SerialProducts"/>: a small product runs with one OpenMP thread on the calling thread and the thread's
/// setting comes back afterwards; a large one runs as it is; the values are those of the plain product.
/// </summary>
public sealed class SerialProductsTests
{
    [Fact]
    public void Small_products_run_on_one_thread_large_ones_as_they_are_and_the_setting_is_restored()
    {
        SingleThreadedTorch.Ensure();
        Assert.True(SerialProducts.Available, "libtorch_cpu should export MKL's and OpenMP's per-thread thread counts");
        using var scope = NewDisposeScope();
        set_num_threads(2);   // libtorch's own setter, on this thread's ICV; back to 1 below
        try
        {
            int before = SerialProducts.OpenMpThreads;
            Assert.Equal(2, before);
            var gen = new Generator(1);
            Tensor a = randn([16, 8], dtype: float64, generator: gen), b = randn([8, 4], dtype: float64, generator: gen);
            int inside = -1;
            Tensor small = SerialProducts.Run(CPU, float64, 16, 8, 4, () => { inside = SerialProducts.OpenMpThreads; return a.mm(b); });
            Assert.Equal(1, inside);                                         // 2·16·8·4 FLOPs: far below the threshold
            Assert.Equal(before, SerialProducts.OpenMpThreads);
            AssertClose("small product", small, a.mm(b), 0, 0);

            Assert.True(SerialProducts.SerialFlops(bfloat16) > SerialProducts.SerialFlops(float32));   // a faster dtype: more work before a second thread pays
            Assert.True(SerialProducts.SerialFlops(float32) > SerialProducts.SerialFlops(float64));
            long n = (long)Math.Ceiling(Math.Cbrt(SerialProducts.SerialFlops(float64) / 2));   // 2·n³ at the threshold
            SerialProducts.Run(CPU, float64, n, n, n, () => { inside = SerialProducts.OpenMpThreads; return a.mm(b); });
            Assert.Equal(before, inside);
            Assert.Throws<InvalidOperationException>(() => SerialProducts.Run(CPU, float64, 1, 1, 1, () => throw new InvalidOperationException("thrown inside")));
            Assert.Equal(before, SerialProducts.OpenMpThreads);              // restored on the way out of an exception too

            Tensor x = randn([3, 5, 8], dtype: float64, generator: gen), w = randn([6, 8], dtype: float64, generator: gen), bias = randn([6], dtype: float64, generator: gen);
            AssertClose("linear", SerialProducts.Linear(x, w, bias), x.matmul(w.t()) + bias, 1e-12, 1e-12);
            AssertClose("mm", SerialProducts.Mm(a, b), (a.unsqueeze(-1) * b.unsqueeze(0)).sum(1), 1e-12, 1e-12);
        }
        finally
        {
            set_num_threads(1);
        }
    }
}
