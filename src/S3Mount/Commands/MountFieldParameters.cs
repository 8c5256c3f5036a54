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
/// binding by property name), so the two can never drift apart. Their values become a spec through
/// <see cref="MountInput"/>, the one reading of mount fields.
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
}
