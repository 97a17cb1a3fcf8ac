// Reads and edits the symbol-version requirements (.gnu.version_r) of a 64-bit little-endian ELF file.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so is linked by GCC 15 and declares a need for GLIBCXX_3.4.32
// only for `_ZSt21ios_base_library_initv`, an iostream-init marker no relocation references. Hosts with an
// older libstdc++ (Debian 12, Ubuntu 22.04: GLIBCXX_3.4.30) refuse to load the library. Marking that one
// version need WEAK (VER_FLG_WEAK) lets the dynamic loader accept it while every real symbol still binds.
//
// This file is compiled twice: into MambaByte.Core (so `mambabyte info` and the tests use it) and, with the
// MSBuild task at the bottom, by RoslynCodeTaskFactory in build/TorchNative.targets. Keep it to C# that the
// task factory's compiler accepts: no file-scoped namespace, no records.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace MambaByte.Core.Native
{
    /// <summary>One version a shared library needs from another (an Elf64_Vernaux entry).</summary>
    public sealed class ElfVersionNeed
    {
        public ElfVersionNeed(string file, string version, ushort flags, long flagsOffset)
        {
            File = file;
            Version = version;
            Flags = flags;
            FlagsOffset = flagsOffset;
        }

        /// <summary>The library the version is needed from, e.g. libstdc++.so.6.</summary>
        public string File { get; }

        /// <summary>The version name, e.g. GLIBCXX_3.4.32.</summary>
        public string Version { get; }

        /// <summary>vna_flags: 0x2 is VER_FLG_WEAK.</summary>
        public ushort Flags { get; }

        /// <summary>Byte offset of vna_flags inside the file.</summary>
        public long FlagsOffset { get; }

        public bool IsWeak { get { return (Flags & ElfVersionNeeds.VerFlagWeak) != 0; } }
    }

    public static class ElfVersionNeeds
    {
        public const ushort VerFlagWeak = 0x2;
        public const string TorchSharpExtraVersion = "GLIBCXX_3.4.32";

        const uint ShtGnuVerdef = 0x6ffffffd;
        const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>Every Vernaux entry of the file; empty when the file has no .gnu.version_r.</summary>
        public static List<ElfVersionNeed> ReadNeeds(byte[] elf)
        {
            var result = new List<ElfVersionNeed>();
            foreach (Section s in Sections(elf))
            {
                if (s.Type != ShtGnuVerneed) continue;
                Section strings = SectionAt(elf, s.Link);
                long need = s.Offset;
                for (uint i = 0; i < s.Info; i++)
                {
                    ushort count = U16(elf, need + 2);
                    string file = CString(elf, strings.Offset + U32(elf, need + 4));
                    long aux = need + U32(elf, need + 8);
                    for (int j = 0; j < count; j++)
                    {
                        ushort flags = U16(elf, aux + 4);
                        string name = CString(elf, strings.Offset + U32(elf, aux + 8));
                        result.Add(new ElfVersionNeed(file, name, flags, aux + 4));
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, need + 12);
                    if (next == 0) break;
                    need += next;
                }
            }
            return result;
        }

        /// <summary>Every version a library defines (Verdef names), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
        public static HashSet<string> ReadDefinitions(byte[] elf)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            foreach (Section s in Sections(elf))
            {
                if (s.Type != ShtGnuVerdef) continue;
                Section strings = SectionAt(elf, s.Link);
                long def = s.Offset;
                for (uint i = 0; i < s.Info; i++)
                {
                    ushort count = U16(elf, def + 6);
                    long aux = def + U32(elf, def + 12);
                    for (int j = 0; j < count; j++)
                    {
                        result.Add(CString(elf, strings.Offset + U32(elf, aux)));
                        uint nextAux = U32(elf, aux + 4);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, def + 16);
                    if (next == 0) break;
                    def += next;
                }
            }
            return result;
        }

        /// <summary>Sets VER_FLG_WEAK on every need of <paramref name="version"/>; returns how many entries changed.</summary>
        public static int MarkWeak(byte[] elf, string version)
        {
            int changed = 0;
            foreach (ElfVersionNeed need in ReadNeeds(elf))
            {
                if (need.Version != version || need.IsWeak) continue;
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                changed++;
            }
            return changed;
        }

        /// <summary>The host's libstdc++.so.6, or null when none is found in the usual places.</summary>
        public static string? FindHostLibStdCxx()
        {
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
                "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6",
                "/lib64/libstdc++.so.6",
                "/usr/lib/libstdc++.so.6",
            };
            foreach (string c in candidates)
                if (System.IO.File.Exists(c)) return c;
            return null;
        }

        /// <summary>
        /// What the build step decides for one library: "patched" (need marked weak), "compatible" (the host
        /// defines every version it needs, file untouched), "not-needed" (the library never needs the version),
        /// "already-weak", or "no-host-libstdc++" (untouched).
        /// </summary>
        public static string WeakenIfHostLacks(string libraryPath, string? hostLibStdCxx, string version, bool write)
        {
            byte[] elf = System.IO.File.ReadAllBytes(libraryPath);
            List<ElfVersionNeed> needs = ReadNeeds(elf);
            ElfVersionNeed? need = needs.Find(n => n.Version == version);
            if (need == null) return "not-needed";
            if (need.IsWeak) return "already-weak";
            if (hostLibStdCxx == null) return "no-host-libstdc++";
            if (ReadDefinitions(System.IO.File.ReadAllBytes(hostLibStdCxx)).Contains(version)) return "compatible";
            MarkWeak(elf, version);
            if (write)
            {
                // Write beside, then rename: an interrupted build never leaves a half-written library.
                string temp = libraryPath + ".weak-tmp";
                System.IO.File.WriteAllBytes(temp, elf);
                System.IO.File.Replace(temp, libraryPath, null);
            }
            return "patched";
        }

        struct Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
        }

        static IEnumerable<Section> Sections(byte[] elf)
        {
            RequireElf64Le(elf);
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3A);
            ushort shnum = U16(elf, 0x3C);
            for (uint i = 0; i < shnum; i++)
                yield return ReadSection(elf, shoff + i * (long)shentsize);
        }

        static Section SectionAt(byte[] elf, uint index)
        {
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3A);
            return ReadSection(elf, shoff + index * (long)shentsize);
        }

        static Section ReadSection(byte[] elf, long at)
        {
            var s = new Section();
            s.Type = U32(elf, at + 4);
            s.Offset = (long)U64(elf, at + 24);
            s.Size = (long)U64(elf, at + 32);
            s.Link = U32(elf, at + 40);
            s.Info = U32(elf, at + 44);
            return s;
        }

        static void RequireElf64Le(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("not a 64-bit little-endian ELF file");
        }

        static ushort U16(byte[] b, long at) { Check(b, at, 2); return (ushort)(b[at] | b[at + 1] << 8); }

        static uint U32(byte[] b, long at) { Check(b, at, 4); return (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24); }

        static ulong U64(byte[] b, long at) { return U32(b, at) | (ulong)U32(b, at + 4) << 32; }

        static string CString(byte[] b, long at)
        {
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }

        static void Check(byte[] b, long at, int size)
        {
            if (at < 0 || at + size > b.Length) throw new InvalidDataException("truncated ELF file");
        }
    }

#if !MAMBABYTE_NO_MSBUILD
    /// <summary>MSBuild step: weakens the GLIBCXX_3.4.32 need of the output copies of libLibTorchSharp.so.</summary>
    public sealed class WeakenTorchSharpNeed : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>Overrides the host libstdc++ lookup (for tests and cross builds).</summary>
        public string HostLibStdCxx { get; set; } = "";

        public override bool Execute()
        {
            string? host = HostLibStdCxx.Length > 0 ? HostLibStdCxx : ElfVersionNeeds.FindHostLibStdCxx();
            foreach (var item in Files)
            {
                string path = item.ItemSpec;
                string outcome = ElfVersionNeeds.WeakenIfHostLacks(path, host, ElfVersionNeeds.TorchSharpExtraVersion, true);
                Log.LogMessage(outcome == "patched" ? Microsoft.Build.Framework.MessageImportance.High : Microsoft.Build.Framework.MessageImportance.Low,
                    "libLibTorchSharp GLIBCXX fix: " + outcome + " (" + path + ")");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
