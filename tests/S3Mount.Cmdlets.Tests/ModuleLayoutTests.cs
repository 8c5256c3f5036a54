using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

namespace S3Mount.Cmdlets.Tests;

/// <summary>'dotnet build' alone must produce a module that loads: manifest, loader, every dependency, formats and help.</summary>
public class ModuleLayoutTests
{
    // Supplied by the host (Windows PowerShell 5.1 / PowerShell 7.4+) and never shipped.
    private static readonly HashSet<string> HostAssemblies = new(StringComparer.OrdinalIgnoreCase)
    {
        "netstandard", "mscorlib", "System", "System.Core", "System.Runtime", "System.Management.Automation", "Microsoft.CSharp",
        "System.Net.Http", "System.Xml", "System.Xml.Linq", "System.Data", "System.Numerics", "System.Configuration",
    };

    [Fact]
    public void Manifest_and_loader_are_in_the_module_folder()
    {
        Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "S3Mount.psd1")), File.ReadAllText(Path.Combine(Repo.ModuleOut, "S3Mount.psd1")));
        Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, "module", "S3Mount.psm1")));
        Assert.True(File.Exists(Path.Combine(Repo.Lib, "S3Mount.dll")));
        Assert.True(File.Exists(Path.Combine(Repo.Lib, "S3Mount.Engine.dll")));
        Assert.True(File.Exists(Path.Combine(Repo.Lib, "S3Mount.Loader.dll")), "the PowerShell 7 load-context loader");
        Assert.True(File.Exists(Path.Combine(Repo.Lib, "en-US", "S3Mount.dll-Help.xml")), "cmdlet help beside the assembly");
        Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, "en-US", "S3Mount.dll-Help.xml")), "cmdlet help beside the manifest (found there after Import-Module -Force)");
        Assert.True(File.Exists(Path.Combine(Repo.Root, ".tools", "pester", "Pester", "5.9.1", "Pester.psd1")), "Pester, laid out by the build");
        Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, "en-US", "about_S3Mount.help.txt")), "about_S3Mount");
        Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, "module", "S3Mount.format.ps1xml")), "format views");
    }

    [Fact]
    public void Every_dependency_ships_beside_the_module_and_the_host_assemblies_do_not()
    {
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var queue = new Queue<string>(new[] { "S3Mount" });
        while (queue.Count > 0)
        {
            var name = queue.Dequeue();
            if (!seen.Add(name))
            {
                continue;
            }

            var file = Path.Combine(Repo.Lib, name + ".dll");
            if (!File.Exists(file))
            {
                missing.Add(name);
                continue;
            }

            using var pe = new PEReader(File.OpenRead(file));
            var md = pe.GetMetadataReader();
            foreach (var h in md.AssemblyReferences)
            {
                var r = md.GetString(md.GetAssemblyReference(h).Name);
                if (!HostAssemblies.Contains(r))
                {
                    queue.Enqueue(r);
                }
            }
        }

        Assert.True(missing.Count == 0, "missing from out/S3Mount/module/lib: " + string.Join(", ", missing));
        Assert.False(File.Exists(Path.Combine(Repo.Lib, "System.Management.Automation.dll")), "System.Management.Automation must come from the host");
    }

    [Fact]
    public void Files_the_manifest_names_exist()
    {
        var psd1 = File.ReadAllText(Path.Combine(Repo.ModuleOut, "S3Mount.psd1"));
        var root = Regex.Match(psd1, @"RootModule\s*=\s*'([^']+)'").Groups[1].Value;
        Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, root)), root);
        var formats = Regex.Match(psd1, @"FormatsToProcess\s*=\s*@\(([^)]*)\)").Groups[1].Value;
        var names = Regex.Matches(formats, "'([^']+)'").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(names);
        Assert.All(names, f => Assert.True(File.Exists(Path.Combine(Repo.ModuleOut, f)), f));
    }

    [Fact]
    public void Assembly_version_comes_from_the_manifest()
    {
        var psd1 = File.ReadAllText(Path.Combine(Repo.Root, "S3Mount.psd1"));
        var version = Regex.Match(psd1, @"ModuleVersion\s*=\s*'([0-9.]+)'").Groups[1].Value;
        foreach (var dll in new[] { "S3Mount.dll", "S3Mount.Engine.dll" })
        {
            using var pe = new PEReader(File.OpenRead(Path.Combine(Repo.Lib, dll)));
            var v = pe.GetMetadataReader().GetAssemblyDefinition().Version;
            Assert.Equal(new Version(version + ".0").ToString(3), v.ToString(3));
        }
    }
}
