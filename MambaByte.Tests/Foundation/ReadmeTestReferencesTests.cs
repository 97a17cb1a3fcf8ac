using System.Reflection;
using System.Text.RegularExpressions;

namespace MambaByte.Tests.Foundation;

public sealed class ReadmeTestReferencesTests
{
    /// <summary>The README names the tests behind its promises; each named test class and method must exist, so a rename cannot leave a promise pointing at nothing.</summary>
    [Fact]
    public void Every_test_the_readme_names_exists()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "README.md"))) directory = Path.GetDirectoryName(directory);
        Assert.NotNull(directory);
        string readme = File.ReadAllText(Path.Combine(directory, "README.md"));
        var classes = typeof(ReadmeTestReferencesTests).Assembly.GetTypes().Where(t => t.Name.EndsWith("Tests", StringComparison.Ordinal)).ToLookup(t => t.Name);

        var named = Regex.Matches(readme, @"`(\w+Tests)(?:\.(\w+))?`").Select(m => (Class: m.Groups[1].Value, Method: m.Groups[2].Value)).ToList();
        Assert.Contains(named, n => n.Method.Length > 0);
        foreach ((string className, string method) in named)
        {
            Type type = Assert.Single(classes[className]);
            if (method.Length > 0)
                Assert.True(type.GetMethod(method, BindingFlags.Public | BindingFlags.Instance) is { } m && m.GetCustomAttributes<FactAttribute>().Any(),
                    $"README names {className}.{method}, which is not a test");
        }
    }
}
