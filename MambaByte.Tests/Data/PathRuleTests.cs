using MambaByte.Data;

namespace MambaByte.Tests.Data;

public sealed class PathRuleTests
{
    [Theory]
    [InlineData("*.txt", "a.txt", true)]
    [InlineData("*.txt", "deep/er/a.txt", true)]      // no '/': matches the file name at any depth
    [InlineData("*.txt", "a.txt.bak", false)]
    [InlineData("**/*.parquet", "x.parquet", true)]   // '**/' also matches no folder
    [InlineData("**/*.parquet", "data/train/x.parquet", true)]
    [InlineData("data/*.parquet", "data/train/x.parquet", false)] // '*' stays within one segment
    [InlineData("data/*/x.parquet", "data/train/x.parquet", true)]
    [InlineData("?.md", "ab.md", false)]
    public void Glob_matches_relative_paths_segment_by_segment(string pattern, string path, bool matches) =>
        Assert.Equal(matches, new GlobPattern(pattern).Matches(path));

    [Theory]
    [InlineData("train/book.txt", "train")]
    [InlineData("default/validation/0000.parquet", "validation")]
    [InlineData("pg19/Test/0000.parquet", "test")]
    [InlineData("dev/a.jsonl", "validation")]
    [InlineData("data/train-00003-of-00010.parquet", "train")]
    [InlineData("validation_0.csv", "validation")]
    [InlineData("books/trainer.txt", null)]
    [InlineData("training-notes/x.txt", null)]  // folders must be named exactly
    [InlineData("contest/x.txt", null)]
    public void Split_folders_and_shard_prefixes_name_the_split(string relativePath, string? split) =>
        Assert.Equal(split, CorpusReader.SplitHint(relativePath));
}
