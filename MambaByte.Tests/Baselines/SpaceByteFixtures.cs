using MambaByte.Core.Architectures.SpaceByte;
using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Baselines;

/// <summary>Tiny float64 SpaceByte models: a wider global width than local, a 5-byte local window, three local blocks split 1 + 2.</summary>
internal static class SpaceByteFixtures
{
    public static SpaceByteConfig TinyConfig(int? globalContextSize = null, int seed = 11) => new()
    {
        DGlobal = 24, NGlobalLayer = 2, NGlobalHead = 2, DLocal = 16, NLocalLayer = 3, NLocalHead = 2, NInitialLayer = 1,
        LocalAttentionWindow = 5, GlobalContextSize = globalContextSize, Seed = seed,
    };

    public static SpaceByteModel Tiny(int? globalContextSize = null, int seed = 11)
    {
        TorchRuntime.EnsureLoaded();
        var model = new SpaceByteModel(TinyConfig(globalContextSize, seed));
        model.to(float64);
        model.eval();
        return model;
    }

    /// <summary>Text-like bytes (letters, spaces, punctuation, two-byte UTF-8 characters) so that patches have several lengths.</summary>
    public static Tensor TextBytes(long batch, long length, int seed)
    {
        byte[] alphabet = "abcdefghij klm,.\n"u8.ToArray().Concat(new byte[] { 0xC3, 0xA9 }).ToArray();
        var random = new Random(seed);
        long[] ids = new long[batch * length];
        for (int i = 0; i < ids.Length; i++) ids[i] = alphabet[random.Next(alphabet.Length)];
        return tensor(ids, [batch, length], dtype: int64);
    }

    /// <summary>Patch starts of row <paramref name="row"/> of <paramref name="bytes"/> (b, l), by the hand-checked rule.</summary>
    public static int[] GlobalPositions(Tensor bytes, int row)
    {
        using Tensor host = bytes[row].cpu();
        return SpacelikeBytes.GlobalPositions(host.data<long>().ToArray().Select(b => (byte)b).ToArray());
    }
}
