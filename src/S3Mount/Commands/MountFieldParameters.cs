using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using S3Mount.Engine.Model;

namespace S3Mount.Commands;

/// <summary>
/// The mount fields as cmdlet parameters: New-S3MountService declares them (Bucket, Path, Prefix, User, Group, one per
/// mount-s3 option, ExtraArgument, Environment, and -Option as the base); other cmdlets that take mounts get the very
/// same parameters as dynamic parameters copied from those declarations (names, types, aliases, validation, pipeline
/// binding by property name), so the two can never drift apart. Bound values become a spec through
/// <see cref="MountSpecFields"/>, the one reading of mount fields.
/// </summary>
internal static class MountFieldParameters
{
    /// <summary>The parameter that carries a piped mount's options (Get-S3MountService's <c>Options</c>).</summary>
    public const string OptionParameter = "Option";

    private static readonly Lazy<IReadOnlyList<PropertyInfo>> Declared = new(() =>
        typeof(NewS3MountServiceCommand).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttributes(typeof(ParameterAttribute), true).Length > 0 && (p.Name == OptionParameter || MountSpecFields.Canonical(p.Name) is not null))
            .ToList());

    /// <summary>The names of the mount-field parameters of New-S3MountService.</summary>
    public static IEnumerable<string> Names => Declared.Value.Select(p => p.Name);

    /// <summary>
    /// New-S3MountService's mount-field parameters as a fresh dynamic parameter set; <paramref name="optional"/> names
    /// those that are mandatory there but not here.
    /// </summary>
    public static RuntimeDefinedParameterDictionary Create(params string[] optional)
    {
        var dictionary = new RuntimeDefinedParameterDictionary();
        foreach (var p in Declared.Value)
        {
            var attributes = new Collection<Attribute>();
            foreach (var a in p.GetCustomAttributes(true).OfType<Attribute>())
            {
                if (a is ParameterAttribute declared)
                {
                    attributes.Add(new ParameterAttribute
                    {
                        Mandatory = declared.Mandatory && !optional.Contains(p.Name, StringComparer.Ordinal),
                        Position = declared.Position,
                        ValueFromPipelineByPropertyName = declared.ValueFromPipelineByPropertyName,
                    });
                }
                else if (a is ValidateArgumentsAttribute or AliasAttribute or AllowNullAttribute or AllowEmptyStringAttribute or AllowEmptyCollectionAttribute or ArgumentCompleterAttribute)
                {
                    attributes.Add(a);
                }
            }

            dictionary.Add(p.Name, new RuntimeDefinedParameter(p.Name, p.PropertyType, attributes));
        }

        return dictionary;
    }

    /// <summary>
    /// The spec that <paramref name="bound"/> (a cmdlet's bound parameters) describes over <paramref name="baseSpec"/>:
    /// a bound -Option replaces the base's options, then every bound field overrides only itself.
    /// </summary>
    public static MountSpec Spec(IDictionary<string, object?> bound, MountSpec baseSpec)
    {
        if (bound.TryGetValue(OptionParameter, out var option) && Plain(option) is MountOptions options)
        {
            baseSpec = baseSpec with { Options = options };
        }

        var values = bound
            .Where(kv => MountSpecFields.Canonical(kv.Key) is not null)
            .Select(kv => new KeyValuePair<string, object?>(kv.Key, Plain(kv.Value)));
        return MountSpecFields.Build(baseSpec, values);
    }

    // PowerShell values as the engine takes them: switches as Booleans, wrapped objects unwrapped.
    private static object? Plain(object? value) => value switch
    {
        SwitchParameter sw => sw.IsPresent,
        PSObject p => Plain(p.BaseObject),
        object[] a => a.Select(Plain).ToArray(),
        _ => value,
    };
}
