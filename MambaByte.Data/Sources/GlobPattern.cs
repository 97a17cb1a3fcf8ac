using System.Text;
using System.Text.RegularExpressions;

namespace MambaByte.Data;

/// <summary>
/// A file glob matched against '/'-separated relative paths: <c>*</c> and <c>?</c> stay within one path segment,
/// <c>**/</c> spans any number of folders. A pattern without '/' matches the file name at any depth.
/// </summary>
internal sealed class GlobPattern
{
    readonly Regex _regex;
    readonly bool _nameOnly;

    public GlobPattern(string pattern)
    {
        if (string.IsNullOrWhiteSpace(pattern)) throw new ArgumentException("--glob: the pattern is empty");
        _nameOnly = !pattern.Contains('/');
        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                bool slashFollows = i + 2 < pattern.Length && pattern[i + 2] == '/';
                regex.Append(slashFollows ? "(?:.*/)?" : ".*");
                i += slashFollows ? 2 : 1;
            }
            else if (c == '*') regex.Append("[^/]*");
            else if (c == '?') regex.Append("[^/]");
            else regex.Append(Regex.Escape(c.ToString()));
        }
        regex.Append('$');
        _regex = new Regex(regex.ToString(), RegexOptions.CultureInvariant);
    }

    public bool Matches(string relativePath)
    {
        string candidate = _nameOnly ? relativePath[(relativePath.LastIndexOf('/') + 1)..] : relativePath;
        return _regex.IsMatch(candidate);
    }
}
