using System.Buffers.Binary;
using System.Security.Cryptography;
using MambaByte.Data;

namespace MambaByte.Tests.Data;

/// <summary>Helpers that read a store back and compute the expected split of a document independently of the preparer.</summary>
internal static class StoreAssert
{
    /// <summary>The documents of one split, read through the public API.</summary>
    public static List<byte[]> Documents(ByteStore store, string split)
    {
        ByteSplit s = store.Split(split);
        var documents = new List<byte[]>();
        for (int i = 0; i < s.DocumentCount; i++)
        {
            (long start, long length) = s.Document(i);
            var bytes = new byte[length];
            s.CopyTo(start, bytes);
            documents.Add(bytes);
        }
        return documents;
    }

    /// <summary>Split index by the documented rule: SHA-256(seed LE ‖ bytes), first 8 bytes LE, top 53 bits as a fraction in [0,1), against cumulative fractions.</summary>
    public static string ExpectedHashSplit(byte[] document, ulong seed, double[] fractions)
    {
        var input = new byte[8 + document.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(input, seed);
        document.CopyTo(input, 8);
        byte[] hash = SHA256.HashData(input);
        double u = (BinaryPrimitives.ReadUInt64LittleEndian(hash) >> 11) / (double)(1UL << 53);
        string[] names = ["train", "validation", "test"];
        double cumulative = 0;
        for (int i = 0; i < 3; i++)
        {
            cumulative += fractions[i];
            if (u < cumulative && fractions[i] > 0) return names[i];
        }
        return names[Array.FindLastIndex(fractions, f => f > 0)];
    }

    /// <summary>Checks that each split holds exactly the expected documents, in input order, and nothing else.</summary>
    public static void HoldsExactly(ByteStore store, IReadOnlyList<(string Split, byte[] Bytes)> expected)
    {
        foreach (string split in new[] { "train", "validation", "test" })
        {
            List<byte[]> actual = Documents(store, split);
            byte[][] wanted = expected.Where(e => e.Split == split).Select(e => e.Bytes).ToArray();
            Assert.Equal(wanted.Length, actual.Count);
            for (int i = 0; i < wanted.Length; i++) Assert.Equal(wanted[i], actual[i]);
            long sum = wanted.Sum(w => (long)w.Length) + (store.Manifest.Separator is null ? 0 : wanted.Length);
            Assert.Equal(sum, store.Split(split).Length);
        }
    }
}
