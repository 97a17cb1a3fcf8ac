using System.Security.Cryptography;
using MambaByte.Data;
using MambaByte.Tests.Support;

namespace MambaByte.Tests.Data;

public sealed class DatasetTests
{
    [Theory]
    [InlineData("kjv", 66)]
    [InlineData("python-stdlib", 33)]
    public void Shipped_dataset_files_match_their_manifest_sizes_and_hashes(string name, int files)
    {
        string directory = DatasetResolver.FindDataset(name) ?? throw new Xunit.Sdk.XunitException($"datasets/{name} not found above {Directory.GetCurrentDirectory()}");
        DatasetManifest manifest = DatasetManifest.Load(Path.Combine(directory, DatasetManifest.FileName));
        Assert.Equal(name, manifest.Name);
        Assert.False(string.IsNullOrWhiteSpace(manifest.Licence));
        Assert.False(string.IsNullOrWhiteSpace(manifest.Source));
        Assert.Equal(files, manifest.Files.Count);
        foreach (DatasetFile file in manifest.Files)
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(directory, file.Path));
            Assert.Equal(file.Bytes, bytes.Length);
            Assert.Equal(file.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public void Resolving_a_dataset_name_prepares_once_into_the_cache_and_reuses_it()
    {
        using var cache = new TempDir();
        string directory = DatasetResolver.FindDataset("kjv")!;
        DatasetManifest manifest = DatasetManifest.Load(Path.Combine(directory, DatasetManifest.FileName));

        string storeDirectory;
        using (ByteStore store = DatasetResolver.Resolve("kjv", cache.Path))
        {
            storeDirectory = store.Directory;
            Assert.StartsWith(cache.Path, storeDirectory);
            // The dataset's own train/validation/test folders decide the split, document by document.
            foreach (string split in new[] { "train", "validation", "test" })
            {
                DatasetFile[] expected = manifest.Files.Where(f => f.Path.StartsWith(split + "/", StringComparison.Ordinal)).ToArray();
                List<byte[]> documents = StoreAssert.Documents(store, split);
                Assert.Equal(expected.Length, documents.Count);
                for (int i = 0; i < expected.Length; i++)
                    Assert.Equal(expected[i].Sha256, Convert.ToHexStringLower(SHA256.HashData(documents[i])));
            }
            Assert.Equal(manifest.Files.Sum(f => f.Bytes), store.Manifest.TotalBytes);
        }
        DateTime written = File.GetLastWriteTimeUtc(Path.Combine(storeDirectory, "manifest.json"));

        using (ByteStore again = DatasetResolver.Resolve(directory, cache.Path)) // by directory: same cache entry
            Assert.Equal(storeDirectory, again.Directory);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(storeDirectory, "manifest.json")));
        Assert.Single(Directory.GetDirectories(cache.Path));
    }

    [Fact]
    public void Resolving_a_store_directory_opens_it_and_unknown_names_fail_clearly()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "a small corpus");
        StorePreparer.Prepare(new PrepareRequest([dir.File("a.txt")], dir.File("store"), SplitFractions: [1, 0, 0]));
        using (ByteStore store = DatasetResolver.Resolve(dir.File("store")))
            Assert.Equal(14, store.Split("train").Length);

        var unknown = Assert.Throws<FileNotFoundException>(() => DatasetResolver.Resolve("no-such-dataset-xyz"));
        Assert.Contains("no-such-dataset-xyz", unknown.Message);
        var notPrepared = Assert.Throws<InvalidDataException>(() => DatasetResolver.Resolve(dir.Path));
        Assert.Contains("mambabyte prepare", notPrepared.Message);
    }

    [Fact]
    public void A_changed_dataset_file_is_detected_by_its_hash()
    {
        using var dir = new TempDir();
        string dataset = Directory.CreateDirectory(dir.File("tiny")).FullName;
        File.WriteAllText(Path.Combine(dataset, "a.txt"), "original");
        string hash = Convert.ToHexStringLower(SHA256.HashData("original"u8.ToArray()));
        File.WriteAllText(Path.Combine(dataset, "dataset.json"),
            $$"""{ "name": "tiny", "description": "d", "licence": "l", "source": "s", "glob": "*.txt", "splitFractions": [1, 0, 0], "files": [ { "path": "a.txt", "bytes": 8, "sha256": "{{hash}}" } ] }""");
        using (ByteStore store = DatasetResolver.Resolve(dataset, dir.File("cache")))
            Assert.Equal("original"u8.ToArray(), StoreAssert.Documents(store, "train").Single());

        File.WriteAllText(Path.Combine(dataset, "a.txt"), "tampered");
        var error = Assert.Throws<InvalidDataException>(() => DatasetResolver.Resolve(dataset, dir.File("cache")));
        Assert.Contains("a.txt", error.Message);
    }
}
